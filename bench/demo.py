"""`make demo`'s wall time: cold (a fresh clone, empty pip and Maven caches, so every
wheel, jar and the Trino server is downloaded) and warm (this checkout, everything
fetched, the stack stopped first so its start is counted).

Debian packages installed by `gamepipe setup` stay installed between runs: the cold
figure includes checking them, not installing them. Both runs use the stack's ports,
so this checkout's stack is stopped first; the warm run leaves it up."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchFailed, out_dir, save
from gamepipe.config import Settings


def timed_make(checkout: Path, env: dict[str, str], log: Path) -> float:
    began = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(
            ["make", "demo"], cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        raise BenchFailed(f"bench demo: `make demo` in {checkout} failed; see {log}")
    return time.monotonic() - began


def stop(checkout: Path, env: dict[str, str]) -> None:
    gamepipe = checkout / ".venv" / "bin" / "gamepipe"
    if gamepipe.exists():
        subprocess.run([str(gamepipe), "down"], cwd=checkout, env=env, check=False, capture_output=True)


def run(settings: Settings, cold: bool = True) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEPIPE_")}
    logs = out_dir(settings)  # the logs of both runs, beside the results
    result: dict[str, Any] = {}
    stop(ROOT, env)
    if cold:
        clone = Path(tempfile.mkdtemp(prefix="gamepipe-bench-cold-")) / "gamepipe"
        clone.parent.chmod(0o755)  # the catalog database runs as the postgres user: it must reach var/
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        cold_env = dict(
            env, PIP_CACHE_DIR=str(clone / ".cache" / "pip"), MAVEN_OPTS=f"-Dmaven.repo.local={clone / '.cache' / 'm2'}"
        )
        print(f"bench demo: cold, in {clone} (empty pip and Maven caches)", flush=True)
        try:
            result["cold_s"] = timed_make(clone, cold_env, logs / "demo-cold.log")
        finally:
            stop(clone, cold_env)
            # The services' logs outlive the clone: a failed cold demo is read from them.
            shutil.rmtree(logs / "demo-cold-logs", ignore_errors=True)
            if (clone / "var" / "logs").is_dir():
                shutil.copytree(clone / "var" / "logs", logs / "demo-cold-logs")
            shutil.rmtree(clone.parent, ignore_errors=True)
        print(f"bench demo: cold {result['cold_s'] / 60:.1f} min", flush=True)
    print("bench demo: warm, in this checkout (stack stopped first)", flush=True)
    result["warm_s"] = timed_make(ROOT, env, logs / "demo-warm.log")
    print(f"bench demo: warm {result['warm_s'] / 60:.1f} min", flush=True)
    save(settings, "demo", result)
