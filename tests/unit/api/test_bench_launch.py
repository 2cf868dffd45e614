"""The bench's launcher leaves nothing running: a process that ignores SIGTERM is killed
after its grace, with the children of its group."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from api.bench.launch import stop

STUBBORN = (
    "import signal, subprocess, sys, time;"
    " signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    " print(child.pid, flush=True); time.sleep(60)"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
        return stat.read().split(") ")[-1][0] != "Z"


def test_a_process_deaf_to_sigterm_is_killed_with_its_group() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, start_new_session=True
    )
    assert stubborn.stdout is not None
    child = int(stubborn.stdout.readline())
    polite = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    began = time.monotonic()
    stop([stubborn, polite], grace_s=0.5)
    assert time.monotonic() - began < 5
    assert stubborn.returncode is not None and polite.returncode is not None
    deadline = time.monotonic() + 5
    while alive(child):  # re-parented when its parent died; the SIGKILL reached it too
        assert time.monotonic() < deadline, "the stubborn process's child outlived it"
        time.sleep(0.02)
