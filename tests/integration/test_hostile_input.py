"""Hostile input through the real CLI: every value ends in exit 0 or a clean exit 2.

Clean: one line on stderr (`ticket import` lists each bad row first, one line each),
no traceback, never exit 70, and nothing written. Property tests (hypothesis) over
durations, timestamps, emails, tags and CSV files, one database per test function.

Argument strategies include lone surrogates: that is how Python hands a program
command-line bytes that are not UTF-8 (`supportctl customer add $'\\xff@x.org'`).
They carry no NUL: no real command line can.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.helpers import fingerprint, run

hostile = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# What a command line can carry: any text but NUL, surrogate escapes of non-UTF-8 bytes included.
ARG_CHARS = st.characters(codec=None, exclude_characters="\x00")
ARG_TEXT = st.text(ARG_CHARS, max_size=40)
SURROGATE_ESCAPED = st.binary(min_size=1, max_size=12).map(lambda b: b.decode("utf-8", "surrogateescape"))


def assert_clean(result, before: dict, after: dict, *, rows_listed: bool = False, refusal: str | None = None) -> None:
    """Exit 0, or exit 2 with one error line (after the bad rows, for imports) and nothing written.

    `refusal`: the message of the one business refusal (exit 4) a repeated example may meet.
    """
    if refusal is not None and result.exit_code == 4:
        assert refusal in result.stderr
    else:
        assert result.exit_code in (0, 2), f"exit {result.exit_code}: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    if result.exit_code == 0:
        return
    lines = result.stderr.splitlines()
    assert result.stderr.endswith("\n") and lines[-1].startswith("supportctl: error: "), result.stderr[-500:]
    if rows_listed:
        assert all(re.match(r"line \d+: ", line) for line in lines[:-1]), lines[:5]
    else:
        assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    assert after == before, "a refused command wrote something"


# -- durations: sla set -------------------------------------------------------------------------------

DURATION_LIKE = st.from_regex(r"\A\s?[pP]?[tTwW]?(-?[0-9٣]{0,12}[dDhHmMsSwWyY.]?){0,4}\s?\Z")


@hostile
@given(response=st.one_of(DURATION_LIKE, ARG_TEXT, SURROGATE_ESCAPED),
       resolution=st.one_of(st.none(), DURATION_LIKE, ARG_TEXT))
@example(response="99999999999999999999d", resolution=None)
@example(response="367d", resolution=None)
@example(response="PT0S", resolution=None)
@example(response="P1M", resolution=None)
@example(response="4h", resolution="-1h")
@example(response="٤h", resolution=None)
def test_sla_set_takes_any_duration_cleanly(cli, engine, response, resolution):
    args = ["sla", "set", "high", "--response", response]
    if resolution is not None:
        args += ["--resolution", resolution]
    before = fingerprint(engine)
    result = cli(args)
    assert_clean(result, before, fingerprint(engine))


# -- timestamps: --now, --created-since ------------------------------------------------------------------

ZONES = st.sampled_from(["Z", "+00:00", "-12:00", "+14:00", "+05:30", "-23:59", "+23:59:59", ""])
ISO_LIKE = st.builds(
    lambda d, sep, zone: d.isoformat(sep=sep) + zone,
    st.datetimes(), st.sampled_from(["T", " ", "t"]), ZONES,
)
TIMESTAMPS = st.one_of(ISO_LIKE, ARG_TEXT, SURROGATE_ESCAPED, st.from_regex(r"\A[0-9]{4,8}(-W?[0-9]{2}){0,2}\Z"))
EXTREMES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "0001-01-01",
            "9999-12-31", "2026-02-30T00:00:00Z", "2026-W53-7", "20261123T100000Z"]


@hostile
@given(now=TIMESTAMPS, since=TIMESTAMPS)
@example(now=EXTREMES[0], since=EXTREMES[1])
@example(now=EXTREMES[2], since=EXTREMES[3])
@example(now=EXTREMES[3], since=EXTREMES[4])
@example(now=EXTREMES[1], since=EXTREMES[0])
@example(now=EXTREMES[6], since=EXTREMES[7])
def test_now_and_created_since_take_any_timestamp_cleanly(cli, engine, now, since):
    for args in (["ticket", "list", "--created-since", since, "--format", "json"],
                 ["ticket", "export", "--created-since", since],
                 ["sla", "breaches", "--at-risk", "2h", "--format", "json"],
                 ["ticket", "create", "--title", "Clock", "--customer", "ana@example.com", "--priority", "low"],
                 ["queue", "escalate"]):
        before = fingerprint(engine)
        result = cli(args, now=now)
        assert_clean(result, before, fingerprint(engine))


# -- emails: customer add --------------------------------------------------------------------------------

EMAIL_LIKE = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", ARG_TEXT, ARG_TEXT),
    ARG_TEXT, SURROGATE_ESCAPED,
    st.builds(lambda e, s: e + s, st.emails(), SURROGATE_ESCAPED),
)


@hostile
@given(email=EMAIL_LIKE, name=st.one_of(st.just("Dee"), ARG_TEXT), company=st.one_of(st.none(), ARG_TEXT))
@example(email="ANA@EXAMPLE.COM", name="Ana", company=None)
@example(email="ünïcode@bücher.example", name="Ü", company="Bücher")
@example(email="a" * 65 + "@example.com", name="Long", company=None)
@example(email="dee@example.com\udcff", name="Dee", company=None)
@example(email="dee@example.com", name="Dee\udcff", company="\udcfe")
@example(email="İstanbul@example.com", name="I", company=None)
def test_customer_add_takes_any_email_cleanly(cli, engine, email, name, company):
    args = ["customer", "add", email, "--name", name] + (["--company", company] if company is not None else [])
    before = fingerprint(engine)
    result = cli(args)
    assert_clean(result, before, fingerprint(engine), refusal="already exists")  # hypothesis repeats examples
    if result.exit_code == 0:
        shown = cli(["customer", "show", result.stdout.strip(), "--format", "json"])
        assert shown.exit_code == 0, shown.stderr


# -- tags: ticket create --tag ---------------------------------------------------------------------------


@hostile
@given(tags=st.lists(st.one_of(ARG_TEXT, SURROGATE_ESCAPED, st.sampled_from(["a;b", " ", "x" * 65, "=cmd()"])),
                     max_size=6),
       title=st.one_of(st.just("Tagged"), ARG_TEXT))
@example(tags=["vip", "VIP", " vip "], title="Dup")
@example(tags=["\udcff"], title="Bytes")
@example(tags=["ok"], title="\udcffTitle")
def test_ticket_create_takes_any_tags_cleanly(cli, engine, tags, title):
    args = ["ticket", "create", "--title", title, "--customer", "ana@example.com"]
    for tag in tags:
        args += ["--tag", tag]
    before = fingerprint(engine)
    result = cli(args)
    assert_clean(result, before, fingerprint(engine))
    if result.exit_code == 0:
        shown = cli(["ticket", "show", result.stdout.strip(), "--format", "json"])
        assert shown.exit_code == 0, shown.stderr


# -- CSV import ------------------------------------------------------------------------------------------

HEADERS = st.sampled_from([
    "external_id,title,customer_email,tags,description",
    "title,customer_email",
    "\ufeffexternal_id,title,customer_email,tags,description",  # written as a UTF-8 BOM
    "external_id,title,customer_email,created_at,priority,status",
    "",  # no header at all: the data starts at line 1
    "title,title,customer_email",
    "id,title,customer_email,escalated,unknown",
])
CELL = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["", "ana@example.com", "BO@Example.com", "not-an-email", "a;b;;c", "high", "closed",
                     "2026-11-20T08:00:00Z", "2099-01-01T00:00:00Z", "line\nbreak", "quote \" inside", "nul\x00byte",
                     "=HYPERLINK()", "\r\n"]),
)


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


@st.composite
def csv_files(draw) -> bytes:
    header = draw(HEADERS)
    columns = max(len(header.split(",")), 1)
    rows = draw(st.lists(st.lists(CELL, min_size=columns, max_size=columns + 1), max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = ([header] if header else []) + [",".join(map(_cell, row)) for row in rows]
    data = (newline.join(lines) + draw(st.sampled_from(["", newline]))).encode("utf-8")
    if draw(st.booleans()):  # bytes that are not UTF-8, somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"])) + data[at:]
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return data


def import_file(cli, engine, tmp_path, data: bytes, name: str = "hostile.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    before = fingerprint(engine)
    result = cli(["ticket", "import", str(path)])
    after = fingerprint(engine)
    assert_clean(result, before, after, rows_listed=True)
    if result.exit_code == 0:
        imported = int(re.search(r"imported (\d+)", result.stderr)[1])
        assert after["tickets"][0] - before["tickets"][0] == imported
    return result


@hostile
@given(data=st.one_of(csv_files(), st.binary(max_size=200)))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"title,customer_email\r\n\"Two\r\nlines\",ana@example.com\r\n")
@example(data=b"title,customer_email\n\"unterminated,ana@example.com\n")
@example(data=b"title,customer_email\nnul\x00,ana@example.com\n")
@example(data=b"ana@example.com,Just data\n")
def test_ticket_import_takes_any_file_cleanly(cli, engine, tmp_path, data):
    import_file(cli, engine, tmp_path, data)


@pytest.mark.parametrize("column", ["description", "title", "tags", "external_id", "category"])
def test_a_2_mb_field_imports_or_is_refused_cleanly(cli, engine, tmp_path, column):
    words = " ".join(f"w{n:07d}x" for n in range(200_000))  # 2 MB of distinct words
    value = {"tags": "big-" + "x" * 2_000_000}.get(column, words)
    header = "external_id,title,customer_email" + ("" if column in ("title", "external_id") else f",{column}")
    row = {"title": f"BIG,{_cell(value)},ana@example.com", "external_id": f"{_cell(value)},Big,ana@example.com"}.get(
        column, f"BIG,Big,ana@example.com,{_cell(value)}")
    result = import_file(cli, engine, tmp_path, f"{header}\r\n{row}\r\n".encode())
    if result.exit_code == 0:
        listed = cli("ticket list --format json --limit 1")
        assert listed.exit_code == 0, listed.stderr


def test_a_file_with_bom_crlf_and_embedded_newlines_imports_exactly(cli, engine, tmp_path):
    data = codecs.BOM_UTF8 + (
        b"external_id,title,customer_email,description\r\n"
        b"A-1,First,ana@example.com,\"one\r\ntwo\r\n\"\r\n"
        b"A-2,Second,bo@example.com,\"quote \"\" and, comma\"\r\n"
    )
    result = import_file(cli, engine, tmp_path, data)
    assert result.exit_code == 0, result.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT external_id, description FROM tickets ORDER BY id")).all() == [
            ("A-1", "one\r\ntwo\r\n"), ("A-2", 'quote " and, comma')]


@pytest.mark.parametrize("data, problem", [
    (b"title,customer_email\nok,ana@example.com\nbad\xff,bo@example.com\n", "line 3: file: byte 0xff"),
    (b"title,customer_email\nnul\x00,ana@example.com\n", "line 2: title: contains a NUL byte"),
    (b"ok,ana@example.com\n", "line 1: the header lacks title, customer_email"),
    (b"", "is empty"),
])
def test_bad_bytes_and_missing_headers_are_refused_with_their_line(cli, engine, tmp_path, data, problem):
    result = import_file(cli, engine, tmp_path, data)
    assert result.exit_code == 2
    assert problem in result.stderr
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 0



# -- inputs without an end ---------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["ticket", "create", "--title", "T", "--customer", "a@example.com", "--description-file", "/dev/zero"],
    ["ticket", "comment", "1", "--author", "a@example.com", "--body-file", "/dev/zero"],
    ["ticket", "import", "/dev/zero"],
], ids=["description", "body", "import"])
def test_an_endless_input_file_is_refused_within_seconds_naming_the_limit(cli, engine, args):
    run(cli, "ticket create --title T --customer a@example.com")
    before = fingerprint(engine)
    started = time.monotonic()
    result = cli(args)
    assert result.exit_code == 2, result.stderr
    assert time.monotonic() - started < 10
    assert re.search(r"larger than \d+ MB|longer than [\d,]+ bytes", result.stderr), result.stderr
    assert result.stderr.count("\n") == 1
    assert fingerprint(engine) == before


def test_an_endless_stdin_is_refused_too(database_url):
    command = (f"{sys.executable} -m supportctl ticket create --title T --customer a@example.com "
               "--description-file - < /dev/zero")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, SUPPORTCTL_DATABASE_URL=database_url))
    assert done.returncode == 2
    assert "--description-file - is larger than 64 MB" in done.stderr


def test_a_description_over_the_limit_exits_2_before_anything_is_written(cli, engine, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("a" * (16 * 1024 * 1024 + 1))
    before = fingerprint(engine)
    result = cli(["ticket", "create", "--title", "T", "--customer", "a@example.com", "--description-file", str(path)])
    assert result.exit_code == 2
    assert "description is 16,777,217 characters long; at most 16,777,216 (16 MB)" in result.stderr
    assert fingerprint(engine) == before


def test_a_header_of_a_million_repeated_columns_is_refused_within_seconds(cli, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("title,customer_email," + ",".join(["tags"] * 1_000_000) + "\n")
    started = time.monotonic()
    result = cli(["ticket", "import", str(path)])
    assert result.exit_code == 2
    assert time.monotonic() - started < 5
    assert "column tags appears more than once" in result.stderr


# -- the small ones ------------------------------------------------------------------------


def test_an_import_created_at_before_1900_is_a_bad_row(cli, engine, tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("title,customer_email,created_at\nAncient,a@example.com,0001-01-01T00:00:00Z\n")
    before = fingerprint(engine)
    result = cli(["ticket", "import", str(path)])
    assert result.exit_code == 2
    assert "line 2: created_at: 0001-01-01T00:00:00Z is before 1900-01-01" in result.stderr
    assert fingerprint(engine) == before
    assert cli("sla calendar set --timezone UTC --hours 'mon-fri 09:00-17:00'").exit_code == 0


@pytest.mark.parametrize("args", [
    "ticket list --limit 99999999999999999999",
    "ticket show 99999999999999999999",
    "queue assign --limit 99999999999999999999",
    "agent add bo@example.com --name Bo --capacity 99999999999999999999",
])
def test_a_number_too_large_is_refused_by_the_parser(cli, engine, args):
    before = fingerprint(engine)
    result = cli(args)
    assert result.exit_code == 2, result.stderr
    assert "must be less than or equal to" in result.stderr and result.stderr.count("\n") == 1
    assert fingerprint(engine) == before


def test_a_calendar_too_sparse_for_the_targets_is_refused_before_any_lock(cli, engine):
    for _ in range(3):
        run(cli, "ticket create --title T --customer a@example.com")
    run(cli, "sla set low --resolution 366d")
    before = fingerprint(engine)
    started = time.monotonic()
    result = cli("sla calendar set --timezone UTC --hours 'mon 09:00-09:01'")
    assert result.exit_code == 2, result.stderr
    assert time.monotonic() - started < 5
    assert "the SLA targets cannot be met on this calendar" in result.stderr
    assert "the calendar opens too rarely for that target" in result.stderr
    assert fingerprint(engine) == before
    run(cli, "sla calendar set --timezone UTC --hours 'mon-fri 09:00-17:00'")
    refused = cli("sla set low --resolution 366d")  # and the other way round
    assert refused.exit_code == 0, refused.stderr  # 366 days of 8-hour days: about 4.4 years, reachable
