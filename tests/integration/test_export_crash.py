"""kill -9 during `ticket export -o FILE`: FILE is the old one or the complete new one, never partial."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from tests.factories import days_ago, insert_tickets
from tests.helpers import NOW

PREVIOUS = b"id,title\n1,the previous export\n"


def export(target, env) -> subprocess.Popen:
    command = [sys.executable, "-m", "supportctl", "ticket", "export", "-o", str(target),
               "--columns", "id,external_id,title,description,status,created_at"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_bytes(directory, name: str, process: subprocess.Popen, timeout: float = 20) -> bool:
    """Until the temporary file beside the target holds some data (True) or the export ended (False)."""
    temp = directory / f".{name}.tmp-{process.pid}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if temp.stat().st_size > 0:
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    return False


@pytest.mark.slow
def test_kill_9_at_random_moments_never_leaves_a_partial_export(database_url, engine, tmp_path):
    insert_tickets(engine, 3000, days_ago(NOW, 1))
    with engine.begin() as conn:  # a few megabytes, so the kill lands while bytes are being written
        conn.execute(text("UPDATE tickets SET description = repeat('Lorem ipsum, \"dolor\"' || E'\\n', 80) || id"))
    env = dict(os.environ, SUPPORTCTL_DATABASE_URL=database_url)
    reference = tmp_path / "reference.csv"
    done = export(reference, env)
    assert done.wait(60) == 0, done.stderr.read()
    complete = reference.read_bytes()
    assert len(complete) > 3_000_000

    outcomes = []
    rng = random.Random(7)
    for round_ in range(6):
        target = tmp_path / f"round{round_}.csv"
        target.write_bytes(PREVIOUS)
        process = export(target, env)
        if round_ < 4:  # while the file is being written
            started = wait_for_bytes(tmp_path, target.name, process)
            time.sleep(rng.uniform(0, 0.02))
        else:  # any moment at all, start-up and rename included
            started = None
            time.sleep(rng.uniform(0.2, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(20)
        result = target.read_bytes()
        assert result in (PREVIOUS, complete), f"round {round_}: {len(result)} bytes, neither old nor complete"
        outcomes.append((started, result == complete))
    # The test must have hit the window it is about: killed with a partial temporary file on disk.
    assert any(started and not finished for started, finished in outcomes), outcomes
