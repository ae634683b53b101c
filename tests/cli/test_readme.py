"""The README's tour, run exactly as written on a fresh database: each command's output
(stdout and stderr, in the order a terminal shows them) is the lines printed under it."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def tour() -> list[tuple[str, list[str]]]:
    """(command line, the lines the README shows under it), in order."""
    text = README.read_text()
    block = text[text.index("```console\n", text.index("## A tour")) + 11:]
    block = block[:block.index("```\n")]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def test_the_readme_tour_prints_what_the_readme_says(new_database):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTCTL_")}
    env["SUPPORTCTL_DATABASE_URL"] = new_database()
    steps = tour()
    assert len(steps) >= 10
    for command, shown in steps:
        words = shlex.split(command, comments=True)
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            env[name] = value
            continue
        assert words[0] == "supportctl", command
        done = subprocess.run([sys.executable, "-m", "supportctl", *words[1:]], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stdout)
        assert [line.rstrip() for line in done.stdout.splitlines()] == shown, command
