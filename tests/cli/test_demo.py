import json


def test_demo_loads_a_sample_assigns_escalates_and_reports_breaches(cli):
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    assert "loaded 6 customers, 5 agents and 14 tickets" in result.stderr
    for step in ("queue assign", "queue escalate --reassign", "sla breaches --at-risk 2h"):
        assert f"$ supportctl {step}" in result.stderr
    tickets = json.loads(cli("ticket list --limit 0 --format json").stdout)
    assert len(tickets) == 14
    unresolved = [t for t in tickets if t["status"] not in ("resolved", "closed")]
    assert all(t["assignee_email"] for t in unresolved)  # the queue run found everyone a taker
    assert any(t["escalated"] for t in tickets)
    assert {t["status"] for t in tickets} >= {"open", "in_progress", "pending", "resolved", "closed"}
    agents = {a["email"]: a for a in json.loads(cli("agent list --format json").stdout)}
    assert agents["lena@support.example"]["open_tickets"] == 0  # leads are never auto-assigned


def test_demo_refuses_a_database_with_tickets_unless_forced(cli):
    cli("ticket create --title T --customer ana@example.com")
    refused = cli("demo")
    assert refused.exit_code == 4
    assert "--force" in refused.stderr
    assert len(json.loads(cli("ticket list --format json").stdout)) == 1
    assert cli("demo --force").exit_code == 0
