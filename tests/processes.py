"""Run the real CLI in several processes at once, released together by a barrier."""

from __future__ import annotations

import multiprocessing
import os


def _worker(barrier, env: dict, args: list[str], results) -> None:
    os.environ.update(env)
    from typer.testing import CliRunner

    from supportctl.cli.app import app

    barrier.wait()
    result = CliRunner().invoke(app, args)
    results.put((result.exit_code, result.stdout, result.stderr))


def run_at_once(args: list[str], env: dict, processes: int = 4, timeout: float = 60) -> list[tuple[int, str, str]]:
    """Start `processes` fresh interpreters, release them together, return each (exit, stdout, stderr)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(barrier, env, args, results)) for _ in range(processes)]
    for w in workers:
        w.start()
    outcome = [results.get(timeout=timeout) for _ in workers]
    for w in workers:
        w.join(timeout)
    return outcome
