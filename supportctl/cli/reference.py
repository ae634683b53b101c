"""docs/cli.md, generated from the commands' own --help (a test fails when it is stale).

Regenerate with: python -m supportctl.cli.reference > docs/cli.md
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from supportctl.cli.app import app

HEADER = """# supportctl command reference

Generated from `--help` by `python -m supportctl.cli.reference > docs/cli.md`;
`tests/cli/test_reference.py` fails when this file is stale. Examples of each
command with real output are in the README.
"""


def _sections(command: Any, path: list[str], parent: Any = None) -> Iterator[tuple[str, str]]:
    settings = {**command.context_settings, "terminal_width": 100, "max_content_width": 100}
    ctx = command.context_class(command, info_name=path[-1], parent=parent, **settings)
    yield " ".join(path), command.get_help(ctx)
    for name, sub in getattr(command, "commands", {}).items():
        yield from _sections(sub, [*path, name], ctx)


def render() -> str:
    parts = [HEADER]
    for title, text in _sections(typer.main.get_command(app), ["supportctl"]):
        level = "#" * min(title.count(" ") + 2, 4)
        parts.append(f"{level} `{title}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
