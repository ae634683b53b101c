import io
import json
from datetime import datetime, timezone

import pytest

from supportctl.cli.output import write_rows

ROWS = [
    {"id": 1, "title": "=HYPERLINK(\"http://x\",\"y\")", "tags": ["a", "b"], "escalated": False,
     "created_at": datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc), "assignee_email": None,
     "overdue_seconds": -3600},
]
COLUMNS = ["id", "title", "tags", "escalated", "created_at", "assignee_email", "overdue_seconds"]


def render(fmt, rows=ROWS, raw=False):
    out = io.StringIO()
    write_rows(rows, COLUMNS, fmt, raw=raw, out=out)
    return out.getvalue()


def test_csv_guards_formula_cells_but_not_numbers():
    lines = render("csv").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == '1,"\'=HYPERLINK(""http://x"",""y"")",a;b,false,2026-11-23T14:05:00Z,,-3600'


def test_raw_csv_keeps_cells_verbatim():
    assert render("csv", raw=True).splitlines()[1].startswith('1,"=HYPERLINK(')


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_dangerous_first_character_is_guarded_in_tsv(start):
    row = dict(ROWS[0], title=start + "x")
    escaped = {"\t": "\\t", "\r": "\\r"}.get(start, start)  # tsv as COPY's text format writes it
    assert "\t'" + escaped + "x\t" in render("tsv", rows=[row])


def test_tsv_is_never_quoted_and_escapes_what_would_split_a_row():
    row = dict(ROWS[0], title='Say "hi"\tnow\nplease \\ thanks')
    line = render("tsv", rows=[row]).splitlines()[1]
    assert line.split("\t")[1] == 'Say "hi"\\tnow\\nplease \\\\ thanks'


def test_json_is_one_array_with_native_types():
    assert json.loads(render("json")) == [
        {"id": 1, "title": "=HYPERLINK(\"http://x\",\"y\")", "tags": ["a", "b"], "escalated": False,
         "created_at": "2026-11-23T14:05:00Z", "assignee_email": None, "overdue_seconds": -3600}
    ]


def test_empty_json_is_an_empty_array_and_empty_ndjson_is_nothing():
    assert render("json", rows=[]) == "[]\n"
    assert render("ndjson", rows=[]) == ""


def test_ndjson_is_one_object_per_line():
    lines = render("ndjson", rows=ROWS * 3).splitlines()
    assert len(lines) == 3 and all(json.loads(line)["id"] == 1 for line in lines)


def test_table_shows_rich_markup_literally_and_is_not_cut_at_80_columns():
    row = dict(ROWS[0], title="[bold]x[/bold] " + "long " * 40)
    text = render("table", rows=[row])
    assert "[bold]x[/bold]" in text
    assert max(len(line) for line in text.splitlines()) > 200
