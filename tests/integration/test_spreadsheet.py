"""What a spreadsheet makes of an export: LibreOffice headless, where it is installed."""

import os
import shutil
import subprocess

import pytest

SOFFICE = shutil.which("soffice")


def open_in_calc(csv_path, tmp_path) -> str:
    """The flat ODS LibreOffice writes after importing the CSV (its default CSV options)."""
    env = dict(os.environ, HOME=str(tmp_path))  # a throwaway profile
    subprocess.run([SOFFICE, "--headless", "--convert-to", "fods", "--outdir", str(tmp_path), str(csv_path)],
                   check=True, capture_output=True, env=env, timeout=180)
    return (tmp_path / (csv_path.stem + ".fods")).read_text()


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_a_formula_in_a_title_opens_as_text_unless_raw(cli, tmp_path):
    cli(["ticket", "create", "--title", '=HYPERLINK("http://x","y")', "--customer", "ana@example.com"])
    assert cli(f"ticket export -o {tmp_path / 'safe.csv'} --columns id,title").exit_code == 0
    assert cli(f"ticket export -o {tmp_path / 'raw.csv'} --columns id,title --raw").exit_code == 0
    safe = open_in_calc(tmp_path / "safe.csv", tmp_path)
    raw = open_in_calc(tmp_path / "raw.csv", tmp_path)
    assert "table:formula" not in safe
    assert "<text:p>&apos;=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)</text:p>" in safe
    assert 'table:formula="of:=HYPERLINK' in raw
