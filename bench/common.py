"""What every benchmark shares: the machine's description, summaries, result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from gamepipe.config import Settings
from gamepipe.errors import TerminalError
from gamepipe.stream.status import StreamStatus

ROOT = Path(__file__).resolve().parents[1]


class BenchFailed(TerminalError):
    """A benchmark could not measure what it set out to (a server that did not start,
    events that did not land): its figures would be wrong, so none are kept."""


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def out_dir(settings: Settings) -> Path:
    path = Path(os.environ.get("GAMEPIPE_BENCH_DIR") or settings.var / "bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(settings: Settings, name: str, result: dict[str, Any]) -> Path:
    """Write `<name>.json` (the latest, read by bench.doc) and a time-stamped copy."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    result = {"benchmark": name, "when": stamp, "machine": machine(), **result}
    directory = out_dir(settings)
    text = json.dumps(result, indent=2, default=str)
    (directory / f"{name}-{stamp}.json").write_text(text)
    latest = directory / f"{name}.json"
    latest.write_text(text)
    print(f"bench {name}: results in {latest}", flush=True)
    return latest


def load(settings: Settings, name: str) -> dict[str, Any] | None:
    path = out_dir(settings) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchFailed(f"server exited while starting: {proc.args!r}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own http:// URL
                return
        except OSError:
            time.sleep(0.2)
    raise BenchFailed(f"server not answering {url} after {timeout_s}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def care_running(settings: Settings) -> bool:
    """A round of table care is running now (the stream's status file says so)."""
    status = StreamStatus.read(settings.stream_dir / "status.json")
    return bool(status and status.table_care.running)
