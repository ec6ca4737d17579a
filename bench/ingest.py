"""Ingest benchmark: our API against the seed's reference app, same broker, same run.

    make bench-ingest            # or: .venv/bin/python bench/ingest.py [--runs 3]

Needs the stack's Kafka (`gamepipe up`). Each app produces to a topic of its own, so
the streaming job stays idle. Rounds alternate reference / ours, so both see the same
machine state; a short warm-up round comes first and is not counted. Measured with
`ab`, as DESIGN.md section 8 states the figures:
- one event per request: `ab -c 64` on GET /purchase_a_sword (ours answers 2xx only
  after the broker's acks=all; the reference answers before Kafka has anything);
- batches: `ab -c 16 -p batch.json` of 100 events per POST /v1/events.
Writes var/bench/ingest-<time>.json and the ingest section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from gamepipe.config import Settings, load_settings
from gamepipe.load import AbStats, run_ab
from gamepipe.stack.apps import server_argv
from gamepipe.stack.kafka import ensure_topic

ROOT = Path(__file__).resolve().parents[1]
BATCH_EVENTS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def start_reference(settings: Settings, topic: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BENCH_KAFKA=settings.kafka.bootstrap, BENCH_TOPIC=topic, FLASK_APP="seed_reference_app.py")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT / "bench", env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/", proc)
    return proc


def start_ours(settings: Settings, topic: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, GAMEPIPE_KAFKA__TOPIC=topic)
    proc = subprocess.Popen(
        server_argv("127.0.0.1", port, settings.api.workers, settings.var),
        cwd=settings.var, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/readyz", proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def batch_file(path: Path) -> Path:
    events = [
        {"event_type": "purchase_sword", "player_id": f"p{i % 37}", "sword_type": "katana", "price": 9.99,
         "currency": "USD"}
        for i in range(BATCH_EVENTS)
    ]  # fmt: skip
    path.write_text(json.dumps({"events": events}))
    return path


def ab_post(url: str, body: Path, requests: int, concurrency: int) -> AbStats:
    from gamepipe.load import ab_path, parse_ab

    out = subprocess.run(
        [ab_path(), "-q", "-n", str(requests), "-c", str(concurrency), "-p", str(body), "-T", "application/json", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return parse_ab(out.stdout)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return {"cores": os.cpu_count(), "ram_gib": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version(),
            "kernel": platform.release()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30000, help="per run, ours (single events)")
    parser.add_argument("--reference-requests", type=int, default=5000, help="per run, reference")
    parser.add_argument("--batches", type=int, default=3000, help="batch requests per run")
    args = parser.parse_args()

    settings = load_settings()
    out_dir = settings.var / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    ref_topic, our_topic = f"bench-ref-{stamp}", f"bench-ours-{stamp}"
    for topic in (ref_topic, our_topic):
        ensure_topic(settings.kafka.bootstrap, topic, settings.kafka.partitions)
    body = batch_file(out_dir / "batch.json")

    ref_port, our_port = free_port(), free_port()
    ref = start_reference(settings, ref_topic, ref_port, out_dir / "reference.log")
    ours = start_ours(settings, our_topic, our_port, out_dir / "ours.log")
    results: dict[str, list[dict[str, Any]]] = {"reference": [], "ours": [], "ours_batch": []}
    try:
        # One short round first, not counted: JIT, connections and page cache warm up.
        run_ab(f"http://127.0.0.1:{ref_port}/purchase_a_sword", 500, 64)
        run_ab(f"http://127.0.0.1:{our_port}/purchase_a_sword", 5000, 64)
        ab_post(f"http://127.0.0.1:{our_port}/v1/events", body, 500, 16)
        for n in range(1, args.runs + 1):
            r = run_ab(f"http://127.0.0.1:{ref_port}/purchase_a_sword", args.reference_requests, 64)
            o = run_ab(f"http://127.0.0.1:{our_port}/purchase_a_sword", args.requests, 64)
            b = ab_post(f"http://127.0.0.1:{our_port}/v1/events", body, args.batches, 16)
            for key, stats in (("reference", r), ("ours", o), ("ours_batch", b)):
                results[key].append({"rps": stats.requests_per_s, "ok": stats.ok, "complete": stats.complete,
                                     "failed": stats.failed, "non_2xx": stats.non_2xx, "p50_ms":
                                     stats.percentiles_ms.get(50), "p99_ms": stats.percentiles_ms.get(99)})  # fmt: skip
            print(
                f"run {n}/{args.runs}: reference {r.requests_per_s:,.0f} req/s | ours {o.requests_per_s:,.0f} req/s"
                f" ({o.complete - o.ok} not 2xx) | batches {b.requests_per_s * BATCH_EVENTS:,.0f} events/s",
                flush=True,
            )
    finally:
        stop(ref)
        stop(ours)

    ref_rps = [x["rps"] for x in results["reference"]]
    our_rps = [x["rps"] for x in results["ours"]]
    ratios = [o / r for o, r in zip(our_rps, ref_rps, strict=True)]
    report = {
        "when": stamp,
        "machine": machine(),
        "workers": settings.api.workers,
        "single": {"reference_rps": summary(ref_rps), "ours_rps": summary(our_rps), "ratio": summary(ratios),
                   "ours_failed_or_non_2xx": sum(x["complete"] - x["ok"] for x in results["ours"])},
        "batch": {"events_per_s": summary([x["rps"] * BATCH_EVENTS for x in results["ours_batch"]]),
                  "failed_or_non_2xx": sum(x["complete"] - x["ok"] for x in results["ours_batch"])},
        "runs": results,
    }  # fmt: skip
    path = out_dir / f"ingest-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"results: {path}")
    write_doc(report)


def write_doc(report: dict[str, Any]) -> None:
    s, b, m = report["single"], report["batch"], report["machine"]

    def fmt(x: dict[str, float], unit: str = "") -> str:
        return f"**{x['median']:,.0f}**{unit} (min {x['min']:,.0f}, max {x['max']:,.0f})"

    lines = [
        f"Measured {report['when']} on {m['cores']} cores, {m['ram_gib']} GiB, Python {m['python']}, "
        f"{len(report['runs']['ours'])} alternating runs after an uncounted warm-up (median, min, max); "
        f"the stack's Kafka, our API with {report['workers']} granian workers. Reproduce: `make bench-ingest`.",
        "",
        "| figure | floor | goal | measured |",
        "|---|---|---|---|",
        f"| one event per request, `ab -c 64`, ours (2xx only after acks=all) | ≥ 4,000 req/s | ≥ 8,000 | "
        f"{fmt(s['ours_rps'], ' req/s')}, {s['ours_failed_or_non_2xx']} failed or non-2xx |",
        f"| the seed's reference app, same broker, same run | | | {fmt(s['reference_rps'], ' req/s')} |",
        f"| ratio ours / reference | ≥ 5× | ≥ 10× | **{s['ratio']['median']:.1f}×** "
        f"(min {s['ratio']['min']:.1f}, max {s['ratio']['max']:.1f}) |",
        f"| batched JSON, 100 events per POST, `ab -c 16` | ≥ 50,000 events/s | ≥ 100,000 | "
        f"{fmt(b['events_per_s'], ' events/s')}, {b['failed_or_non_2xx']} failed or non-2xx |",
    ]
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    start, end = "<!-- ingest:start -->", "<!-- ingest:end -->"
    before, rest = text.split(start)
    _, after = rest.split(end)
    doc.write_text(before + start + "\n" + "\n".join(lines) + "\n" + end + after)
    print(f"updated {doc}")


if __name__ == "__main__":
    main()
