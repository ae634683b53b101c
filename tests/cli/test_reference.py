from pathlib import Path

from supportctl.cli.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_matches_the_commands_help():
    assert DOC.read_text() == render(), "docs/cli.md is stale: python -m supportctl.cli.reference > docs/cli.md"
