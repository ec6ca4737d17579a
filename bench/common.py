"""What every benchmark shares: the machine's description, summaries, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from gamepipe.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())  # fmt: skip
    return {"cores": os.cpu_count(), "cpu": model, "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "kernel": platform.release()}  # fmt: skip


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
            raise SystemExit(f"server exited while starting: {proc.args}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own http:// URL
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server not answering {url} after {timeout_s}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
