"""Run the real CLI in several processes at once, released together by a barrier."""

from __future__ import annotations

import importlib
import multiprocessing
import os


def _worker(barrier, env: dict, args: list[str], results, patch: tuple[str, str, object] | None) -> None:
    os.environ.update(env)
    from typer.testing import CliRunner

    from supportctl.cli.app import app

    if patch is not None:
        module, name, value = patch
        setattr(importlib.import_module(module), name, value)
    barrier.wait()
    result = CliRunner().invoke(app, args)
    results.put((result.exit_code, result.stdout, result.stderr))


def run_at_once(args: list[str], env: dict, processes: int = 4, timeout: float = 60,
                patch: tuple[str, str, object] | None = None) -> list[tuple[int, str, str]]:
    """Start `processes` fresh interpreters, release them together, return each (exit, stdout, stderr).

    `patch` (module, name, value) is set in each before the start: e.g. a small batch size, so
    that the runs claim work turn about instead of the first taking it all."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(barrier, env, args, results, patch)) for _ in range(processes)]
    for w in workers:
        w.start()
    outcome = [results.get(timeout=timeout) for _ in workers]
    for w in workers:
        w.join(timeout)
    return outcome


def _racer(env: dict, commands, go, results) -> None:
    os.environ.update(env)
    from typer.testing import CliRunner

    from supportctl.cli.app import app

    runner = CliRunner()
    while (args := commands.get()) is not None:
        go.wait()
        result = runner.invoke(app, args)
        results.put((result.exit_code, result.stdout, result.stderr))


class Racers:
    """Processes that stay up and, round after round, each run one command, released together.

    Starting an interpreter per command takes longer than the race it would run; these
    start once, so 50 rounds of a race take seconds.
    """

    def __init__(self, env: dict, count: int = 2) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.go = ctx.Barrier(count)
        self.lanes = [(ctx.Queue(), ctx.Queue()) for _ in range(count)]
        self.workers = [ctx.Process(target=_racer, args=(env, commands, self.go, results), daemon=True)
                        for commands, results in self.lanes]
        for worker in self.workers:
            worker.start()

    def race(self, *commands: list[str], timeout: float = 60) -> list[tuple[int, str, str]]:
        """Run one command in each process at once; (exit, stdout, stderr) of each, in order."""
        for (queue, _), args in zip(self.lanes, commands, strict=True):
            queue.put(args)
        return [results.get(timeout=timeout) for _, results in self.lanes]

    def close(self) -> None:
        for queue, _ in self.lanes:
            queue.put(None)
        for worker in self.workers:
            worker.join(10)

    def __enter__(self) -> "Racers":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
