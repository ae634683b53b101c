"""Working the queue by hand: tables that fit an 80-column terminal, honest pipes, logs in
order, root options after the command. The terminal is a real pseudo-terminal of 80
columns around a real supportctl process."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from datetime import timedelta

from tests.factories import insert_tickets
from tests.helpers import NOW, create, run

SUPPORTCTL = [sys.executable, "-m", "supportctl"]
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(args: list[str], columns: int = 80, pager: str = "cat", colour: bool = False,
                escapes: bool = False, **env: str) -> tuple[int, list[str]]:
    """supportctl ARGS on a pseudo-terminal of `columns` x 24: (exit code, the lines it showed,
    colour escapes taken out unless `escapes`)."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**{k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")},
           "PAGER": pager, "TERM": "xterm-256color", **({} if colour else {"NO_COLOR": "1"}), **env}
    process = subprocess.Popen([*SUPPORTCTL, "--now", NOW.isoformat(), *args], stdin=side, stdout=side,
                               stderr=side, env=env, close_fds=True)
    os.close(side)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 1 << 16)
        except OSError:  # the process has gone: the terminal is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    text = shown.decode().replace("\r", "")
    return process.wait(timeout=60), (text if escapes else _ESCAPES.sub("", text)).splitlines()


def a_queue(cli):
    """Agents with long emails, a team, and breached tickets with long titles."""
    for email in ("lena.lindqvist@support.example", "samuel.okafor@support.example"):
        run(cli, ["agent", "add", email, "--name", email.split(".")[0].title(), "--capacity", "12"])
    run(cli, "team add billing-and-invoices --name Billing --lead lena.lindqvist@support.example")
    for n in range(6):
        ticket = create(cli, title=f"Invoice {n} shows the wrong VAT rate for every customer in Austria",
                        customer=f"accounts.payable.{n}@very-long-company-name.example", priority="high",
                        now=NOW - timedelta(hours=30 + n))  # past the 24h resolution target of high
        run(cli, f"ticket assign {ticket} --to samuel.okafor@support.example", now=NOW - timedelta(hours=29))


def test_tables_fit_80_columns_one_line_a_row_with_no_email_broken(cli):
    a_queue(cli)
    for args, rows in ((["sla", "breaches"], 6), (["ticket", "list"], 6), (["agent", "list"], 2),
                       (["team", "list"], 1)):
        code, lines = on_terminal(args)
        assert code == 0, lines
        table = [line for line in lines if line and not line.startswith(("hidden to fit", "showing", "6 breaches"))]
        assert len(table) == 1 + rows, (args, lines)  # the header and one line a row
        assert all(len(line) <= 80 for line in table), (args, lines)
        for line in table[1:]:
            for word in re.findall(r"\S*@\S*", line):  # every email there is whole
                assert re.fullmatch(r"[a-z.0-9]+@[a-z.-]+\.example", word), (args, line)
    _, lines = on_terminal(["ticket", "list"], columns=120)
    assert lines[1].startswith("1   Invoice 0 shows") and "…" in lines[1]  # titles are cut, not wrapped
    assert "1d6h ago" in lines[1]  # times are relative on a terminal
    _, lines = on_terminal(["--absolute", "ticket", "list"], columns=200)
    assert "2026-11-22T04:00:00Z" in lines[1]
    # TERM=dumb is a terminal without colours, not one of 80 columns
    _, lines = on_terminal(["ticket", "list", "--columns", "id,title,customer_email"], columns=160, TERM="dumb")
    assert lines[1].startswith("1   Invoice 0 shows the wrong VAT rate for every customer in Austria  accounts.")


def test_a_pipe_gets_the_table_columns_as_real_tsv(cli):
    titles = ['Button says "Save" twice', "tab\there", "two\nlines", "back\\slash"]
    for title in titles:
        create(cli, title=title)
    piped = run(cli, "ticket list").stdout.splitlines()
    assert piped[0].split("\t")[:4] == ["id", "title", "status", "priority"]
    # `cut -f2`: exactly the titles, one a line, tab, newline and backslash escaped, nothing quoted.
    assert [line.split("\t")[1] for line in piped[1:]] == ["back\\\\slash", "two\\nlines", "tab\\there",
                                                          'Button says "Save" twice']
    # the sla column reads as on screen, response/resolution (the object is for json), with or
    # without a business-hours calendar (computed in SQL, then in Python)
    assert {line.split("\t")[4] for line in piped[1:]} == {"running/running"}
    run(cli, ["sla", "calendar", "set", "--timezone", "UTC", "--hours", "mon-fri 09:00-17:00"])
    assert {line.split("\t")[4] for line in run(cli, "ticket list").stdout.splitlines()[1:]} == {"running/running"}


def test_a_broken_pipe_is_exit_0_and_a_log_reads_in_order(cli, engine, database_url):
    insert_tickets(engine, 5000, NOW - timedelta(hours=1))
    env = {**os.environ, "SUPPORTCTL_DATABASE_URL": database_url}
    head = subprocess.run(["bash", "-c", " ".join(SUPPORTCTL) + " ticket list --limit 0 | head -1; "
                           "echo ${PIPESTATUS[0]}"], env=env, capture_output=True, text=True, timeout=60)
    assert head.stdout.splitlines() == ["id\ttitle\tstatus\tpriority\tsla\tassignee_email\tcreated_at\tcustomer_email",
                                        "0"]
    assert head.stderr == ""


def test_the_demo_log_has_each_narration_next_to_its_table(new_database, tmp_path):
    env = {**os.environ, "SUPPORTCTL_DATABASE_URL": new_database(), "SUPPORTCTL_NOW": NOW.isoformat()}
    log = tmp_path / "log"
    with log.open("w") as out:
        subprocess.run([*SUPPORTCTL, "demo"], stdout=out, stderr=subprocess.STDOUT, env=env, check=True, timeout=120)
    lines = log.read_text().splitlines()
    assign, escalate, breaches = (lines.index(f"$ supportctl {c}") for c in
                                  ("queue assign", "queue escalate --reassign", "sla breaches --at-risk 2h"))
    assert assign < escalate < breaches
    assert lines[assign + 1].startswith("id\t")  # queue assign's rows follow its narration
    assert lines[escalate + 1].startswith("id\t") and lines[breaches + 1].startswith("id\t")


def test_root_options_work_after_the_command(cli):
    create(cli)
    later = run(cli, ["ticket", "list", "--now", "2026-11-25T10:00:00Z", "--format", "json", "--columns", "sla"],
                now=None).stdout
    assert '"remaining_seconds":-86400' in later.replace(" ", "")  # a day past the 24h response target
    assert run(cli, ["ticket", "show", "1", "--actor", "someone", "--debug"], now=None).exit_code == 0


def test_completion_script_and_agent_emails_from_the_database(cli, database_url):
    run(cli, "agent add sam@support.example --name Sam")
    run(cli, "agent add sue@support.example --name Sue")
    run(cli, "agent add old@support.example --name Old")
    run(cli, "agent update old@support.example --inactive")
    script = subprocess.run([*SUPPORTCTL, "--show-completion", "bash"], capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_SUPPORTCTL_COMPLETE=complete_bash" in script.stdout
    tcsh = subprocess.run([*SUPPORTCTL, "--show-completion", "tcsh"], capture_output=True, text=True, timeout=60)
    assert (tcsh.returncode, tcsh.stderr) == (2, "supportctl: error: no completion script for tcsh "
                                                 "(there is one for bash, zsh, fish, powershell, pwsh)\n")

    def complete(words: str) -> list[str]:
        env = {**os.environ, "SUPPORTCTL_DATABASE_URL": database_url, "_SUPPORTCTL_COMPLETE": "complete_bash",
               "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
        return subprocess.run(SUPPORTCTL, env=env, capture_output=True, text=True, timeout=60).stdout.split()

    assert complete("supportctl ticket assign 1 --to ") == ["sam@support.example", "sue@support.example"]
    assert complete("supportctl ticket assign 1 --to su") == ["sue@support.example"]
    assert complete("supportctl ticket list --status ") == ["open", "in_progress", "pending", "resolved", "closed"]
    for n in range(12):
        create(cli, title=f"Ticket {n + 1}")
    run(cli, "ticket resolve 11")
    # unresolved tickets whose id starts so, newest first (bash gets the ids; zsh and fish the titles too)
    assert complete("supportctl ticket show 1") == ["12", "10", "1"]
    assert complete("supportctl ticket show ")[:3] == ["12", "10", "9"]  # by number, not as text


def test_team_show_in_csv_is_the_team_row_alone(cli):
    run(cli, "agent add sam@support.example --name Sam")
    run(cli, "team add billing --name Billing")
    run(cli, "team member add billing sam@support.example")
    rows = run(cli, "team show billing --format csv").stdout.splitlines()
    assert len(rows) == 2 and rows[0].startswith("slug,name,") and rows[1].startswith("billing,Billing,")


def test_resolve_close_and_reopen_by_name(cli, engine):
    from sqlalchemy import text

    run(cli, "agent add bo@example.com --name Bo")
    ticket = create(cli)
    run(cli, ["--actor", "bo@example.com", "ticket", "resolve", str(ticket), "--comment", "Fixed in 2.4.1."])
    shown = run(cli, f"ticket show {ticket} --format json").stdout
    assert '"status":"resolved"' in shown.replace(" ", "") and "Fixed in 2.4.1." in shown
    run(cli, f"ticket reopen {ticket}")
    run(cli, f"ticket close {ticket}")
    refused = run(cli, f"ticket reopen {ticket}", code=4)
    assert "closed" in refused.stderr
    with engine.connect() as conn:
        moves = conn.execute(text("SELECT from_value #>> '{}', to_value #>> '{}' FROM ticket_events "
                                  "WHERE kind = 'status_changed' ORDER BY id")).all()
    assert moves == [("open", "resolved"), ("resolved", "open"), ("open", "closed")]


def test_a_repeated_filter_means_any_of_its_values(cli):
    for email in ("bo@example.com", "cy@example.com", "di@example.com"):
        run(cli, ["agent", "add", email, "--name", email[:2]])
    a = create(cli, "--tag", "a", "--category", "billing", "--assign", "bo@example.com")
    b = create(cli, "--tag", "b", "--category", "auth", "--assign", "cy@example.com", customer="eve@example.com")
    create(cli, "--tag", "c", "--assign", "di@example.com", customer="fay@example.com")

    def ids(*args: str) -> list[int]:
        return [int(i) for i in run(cli, ["ticket", "list", "--columns", "id", *args]).stdout.split()[1:]]

    assert ids("--tag", "a", "--tag", "b") == [b, a]
    assert ids("--assignee", "bo@example.com", "--assignee", "cy@example.com") == [b, a]
    assert ids("--category", "billing", "--category", "auth") == [b, a]
    assert ids("--customer", "ana@example.com", "--customer", "eve@example.com") == [b, a]
    assert ids("--tag", "a", "--assignee", "cy@example.com") == []  # different filters: all of them


def test_a_long_list_shows_a_page_through_the_pager_and_a_pipe_gets_every_row(cli, engine):
    insert_tickets(engine, 60, NOW - timedelta(days=4))  # 60 tickets, each breached on both metrics
    code, lines = on_terminal(["sla", "breaches"], pager="wc -l")
    assert code == 0
    assert lines[0].strip() == "51"  # the pager got the header and the first 50 rows
    assert "showing 50 of 120 (--limit 0 for all)" in lines
    _, lines = on_terminal(["--no-pager", "sla", "breaches", "--limit", "10"], pager="wc -l")
    assert len([line for line in lines if re.match(r"\d+ +medium ", line)]) == 10
    assert "showing 10 of 120 (--limit 0 for all)" in lines
    assert len(run(cli, "sla breaches --format csv").stdout.splitlines()) == 1 + 120


def test_a_calendar_set_again_keeps_its_holidays_unless_told(cli):
    week = ["sla", "calendar", "set", "--timezone", "Europe/Berlin", "--hours", "mon-fri 09:00-17:00"]
    run(cli, [*week, "--holiday", "2026-12-24", "--holiday", "2026-12-25"])
    assert "3 holidays" in run(cli, [*week, "--add-holiday", "2026-12-31"]).stderr

    def holidays() -> str:
        [row] = json.loads(run(cli, "sla calendar show --format json").stdout)
        return ";".join(row["holidays"])

    assert holidays() == "2026-12-24;2026-12-25;2026-12-31"
    run(cli, [*week, "--remove-holiday", "2026-12-24"])
    assert holidays() == "2026-12-25;2026-12-31"
    run(cli, [*week, "--clear-holidays", "--holiday", "2027-01-01"])
    assert holidays() == "2027-01-01"


def test_me_is_the_agent_of_supportctl_me(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("SUPPORTCTL_ME", raising=False)
    run(cli, "agent add sam@support.example --name Sam")
    ticket = create(cli)
    unset = run(cli, f"ticket assign {ticket} --to me", code=2)
    assert "'me' needs your agent's email: set SUPPORTCTL_ME" in unset.stderr
    (tmp_path / "supportctl").mkdir()
    (tmp_path / "supportctl" / "config.toml").write_text('me = "sam@support.example"\ncolour = "red"\n')
    mine = run(cli, f"ticket assign {ticket} --to me")
    assert "unknown key colour (known: database_url, me)" in mine.stderr
    monkeypatch.setenv("SUPPORTCTL_ME", "sam@support.example")
    assert run(cli, "ticket list --assignee me --columns id").stdout.split()[1:] == [str(ticket)]


def test_agent_customer_and_notify_lists_take_a_limit_and_say_how_many_there_are(cli):
    for n in range(3):
        run(cli, ["agent", "add", f"a{n}@support.example", "--name", f"A{n}"])
        create(cli, customer=f"c{n}@example.com", now=NOW + timedelta(minutes=n))
        run(cli, f"ticket assign {n + 1} --to a{n}@support.example", now=NOW + timedelta(minutes=10 - n))
    for command, first in (("agent list", "a0@"), ("customer list", "c0@"), ("notify list", None)):
        result = run(cli, f"{command} --limit 2 --format csv")
        assert len(result.stdout.splitlines()) == 1 + 2, command
        assert result.stderr == "showing 2 of 3 (--limit 0 for all)\n", command
        if first:
            assert result.stdout.splitlines()[1].startswith(first)
        assert len(run(cli, f"{command} --format csv").stdout.splitlines()) == 1 + 3  # piped: every row
    # The outbox oldest first: the mails of tickets 3, 2, 1, in the order they were queued.
    rows = run(cli, "notify list --format json").stdout
    assert [int(x) for x in re.findall(r'"ticket_id":(\d+)', rows)] == [3, 2, 1]


def test_breached_is_red_at_risk_yellow_and_no_color_means_none(cli):
    a_queue(cli)
    create(cli, title="Due soon", priority="high", now=NOW - timedelta(hours=23))  # 1h of its 24h left
    _, lines = on_terminal(["sla", "breaches", "--at-risk", "2h"], columns=160, colour=True, escapes=True)
    assert "\x1b[31mbreached" in "\n".join(lines) and "\x1b[33mat_risk" in "\n".join(lines)
    _, lines = on_terminal(["sla", "breaches", "--at-risk", "2h"], columns=160, escapes=True)
    assert not any("\x1b[" in line for line in lines)  # NO_COLOR: no colour, no bold
    assert "\x1b" not in run(cli, "sla breaches").stdout  # nor on a pipe


def test_one_duration_format_and_times_in_the_calendars_zone(cli):
    ticket = create(cli, priority="high", now=NOW - timedelta(hours=50, minutes=7, seconds=8))
    _, lines = on_terminal(["sla", "breaches", "--metric", "resolution"], columns=160)
    # due 24h after creation, so overdue by 50h7m8s - 24h = 26h7m8s: 1d2h, the minutes dropped
    assert lines[1].split()[:2] == [str(ticket), "high"] and " 1d2h " in lines[1], lines
    csv = run(cli, "sla breaches --metric resolution --format csv").stdout.splitlines()
    assert csv[1].endswith(",94028")  # data formats keep seconds: 26 * 3600 + 7 * 60 + 8
    _, shown = on_terminal(["ticket", "show", str(ticket)], columns=160)
    assert any(re.fullmatch(r"sla_resolution +breached, due 2026-11-22T07:52:52Z, overdue by 1d2h", line.rstrip())
               for line in shown), shown
    run(cli, ["sla", "calendar", "set", "--timezone", "Europe/Berlin", "--hours", "mon-sun 00:00-24:00"])
    _, lines = on_terminal(["--absolute", "ticket", "list"], columns=200)
    assert "2026-11-21T08:52:52+01:00" in lines[1]  # 07:52:52Z in Berlin, winter time
    assert "2026-11-21T07:52:52Z" in run(cli, "ticket list").stdout  # a pipe stays UTC


def test_history_reads_in_words(cli):
    run(cli, ["agent", "add", "sam@support.example", "--name", "Sam"])
    ticket = create(cli, now=NOW - timedelta(hours=3))
    run(cli, ["--actor", "lead", "ticket", "assign", str(ticket), "--to", "sam@support.example"],
        now=NOW - timedelta(hours=2))
    run(cli, ["--actor", "sam", "ticket", "update", str(ticket), "--status", "pending"], now=NOW - timedelta(hours=1))
    _, lines = on_terminal(["ticket", "show", str(ticket)], columns=120)
    history = [line.rstrip() for line in lines[lines.index("History:") + 2:] if line]
    assert history[0].startswith("3h ago") and history[0].split(None, 2)[2].startswith("created by ")
    assert history[1:] == ["2h ago  assigned to sam@support.example by lead",
                           "1h ago  status open → pending by sam"]


def test_show_by_external_id_and_a_now_before_the_ticket(cli):
    ticket = create(cli, "--external-id", "ZD-1042")
    other = create(cli)
    [row] = json.loads(run(cli, "ticket show --external-id ZD-1042 --format json").stdout)
    assert row["id"] == ticket
    [row] = json.loads(run(cli, f"ticket show --external-id sc-{other} --format json").stdout)
    assert row["id"] == other  # how an export writes a ticket without an external id
    assert "no ticket with external id 'ZD-9'" in run(cli, "ticket show --external-id ZD-9", code=3).stderr
    assert "not both" in run(cli, f"ticket show {ticket} --external-id ZD-1042", code=2).stderr
    for args in (f"ticket show {ticket}", f"sla explain {ticket}"):
        refused = run(cli, args, code=2, now=NOW - timedelta(days=1))
        assert f"is before ticket {ticket} was created (2026-11-23T10:00:00Z)" in refused.stderr


def test_e_writes_the_description_and_the_comment_in_the_editor(cli):
    editor = "sh -c 'printf \"Written in the editor\\n\\n\" > \"$1\"' editor"
    code, lines = on_terminal(["ticket", "create", "--title", "T", "--customer", "ana@example.com", "-e"],
                              EDITOR=editor)
    assert code == 0, lines
    ticket = int(lines[-1])
    code, lines = on_terminal(["ticket", "comment", str(ticket), "-e", "--author", "ana@example.com"], EDITOR=editor)
    assert code == 0, lines
    [row] = json.loads(run(cli, f"ticket show {ticket} --format json").stdout)
    assert row["description"] == "Written in the editor"
    assert [c["body"] for c in row["comments"]] == ["Written in the editor"]
    code, lines = on_terminal(["ticket", "create", "--title", "T", "--customer", "ana@example.com", "-e"],
                              EDITOR="true")  # saved nothing
    assert code == 2 and "the description is empty; nothing was written" in lines[-1]
    refused = run(cli, "ticket create --title T --customer ana@example.com -e", code=2)  # no terminal here
    assert "--edit needs a terminal" in refused.stderr
    assert "give one of --body, --body-file and --edit" in run(cli, f"ticket comment {ticket} -e --body x",
                                                               code=2).stderr
    assert len(json.loads(run(cli, "ticket list --format json").stdout)) == 1
