"""pid files carry the process's start time (stack/supervisor.py): a pid that was reused by
another process is never taken for the one that wrote the file."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from gamepipe.stack.supervisor import live_pid, write_pid


def test_a_pid_file_names_its_process_while_that_process_runs(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    write_pid(path, os.getpid())
    assert live_pid(path) == os.getpid()


def test_a_reused_pid_is_not_taken_for_the_process_that_wrote_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    started = psutil.Process(os.getpid()).create_time()
    path.write_text(f"{os.getpid()} {started - 3600}\n")  # the pid, but a process an hour older
    assert live_pid(path) is None
    assert path.exists(), "reading never changes the file"


def test_a_dead_pid_or_an_old_style_file_is_no_process(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    path.write_text("4194304 1.0\n")  # above Linux's pid_max
    assert live_pid(path) is None
    path.write_text(f"{os.getpid()}\n")  # no start time: written by an older gamepipe
    assert live_pid(path) is None
