import json


def agents(cli):
    return {a["email"]: a for a in json.loads(cli("agent list --format json").stdout)}


def test_agent_is_added_active_with_role_and_capacity(cli):
    result = cli("agent add Bo@Example.com --name Bo --role senior --capacity 3")
    assert result.exit_code == 0, result.stderr
    bo = agents(cli)["bo@example.com"]
    assert bo["role"] == "senior"
    assert bo["capacity"] == 3
    assert bo["active"] is True
    assert bo["open_tickets"] == 0
    assert bo["last_assigned_at"] is None


def test_agent_update_takes_an_agent_out_of_rotation_and_back(cli):
    cli("agent add bo@example.com --name Bo")
    assert cli("agent update bo@example.com --inactive").exit_code == 0
    assert agents(cli)["bo@example.com"]["active"] is False
    cli("agent update bo@example.com --active --role lead --capacity 5")
    bo = agents(cli)["bo@example.com"]
    assert (bo["active"], bo["role"], bo["capacity"]) == (True, "lead", 5)
    cli("agent update bo@example.com --no-capacity")
    assert agents(cli)["bo@example.com"]["capacity"] is None


def test_agent_capacity_below_one_exits_2_and_changes_nothing(cli):
    cli("agent add bo@example.com --name Bo --capacity 2")
    assert cli("agent add cy@example.com --name Cy --capacity 0").exit_code == 2
    result = cli("agent update bo@example.com --capacity 0")
    assert result.exit_code == 2
    assert "Invalid value for '--capacity': must be greater than or equal to 1" in result.stderr
    assert set(agents(cli)) == {"bo@example.com"}
    assert agents(cli)["bo@example.com"]["capacity"] == 2


def test_unknown_role_exits_2(cli):
    result = cli("agent add bo@example.com --name Bo --role boss")
    assert result.exit_code == 2
    assert "'boss' is not one of 'agent', 'senior', 'lead'" in result.stderr


def test_duplicate_agent_exits_4_and_unknown_agent_exits_3(cli):
    cli("agent add bo@example.com --name Bo")
    assert cli("agent add bo@example.com --name Bo").exit_code == 4
    assert cli("agent show cy@example.com").exit_code == 3
    assert cli("agent update cy@example.com --inactive").exit_code == 3
