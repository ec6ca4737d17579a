"""The benchmark harness itself, in tiny sizes on the real stack: each benchmark writes
its result and the report shows it (the figures are not judged here: bench/ does that)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gamepipe.config import Settings

pytestmark = pytest.mark.stack


def test_every_benchmark_runs_quick_and_lands_in_the_report(stack: Settings, tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    env = dict(os.environ, GAMEPIPE_BENCH_DIR=str(tmp_path))
    argv = [sys.executable, "-m", "bench", "all", "files", "--quick", "--doc", str(doc)]
    done = subprocess.run(argv, cwd=stack.root, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "leaves out demo" in done.stdout

    results = {
        name: json.loads((tmp_path / f"{name}.json").read_text())
        for name in ("ingest", "freshness", "query", "memory", "soak", "files")
    }
    ingest = results["ingest"]
    assert ingest["single"]["ours_rps"]["median"] > 0 and ingest["idle_topic"]["ours_rps"]["median"] > 0
    assert ingest["batch"]["failed_or_non_2xx"] == 0
    assert ingest["landed"]["in_sword_purchases"] == ingest["landed"]["accepted"] > 0, "what ours accepted landed"
    [run] = results["freshness"]["runs"]
    assert run["failed"] == 0 and run["duckdb_counts"] == {
        "sword_purchases": run["accepted"],
        "events": run["accepted"],
    }
    assert 0 < run["events"]["p50_s"] <= run["events"]["p99_s"]
    # Every probe found by both readers, each after its own commit.
    assert run["probes"] > 0 and run["probe_trino_missed"] == run["probe_duckdb_missed"] == 0
    assert len(run["probe_trino_s"]) == len(run["probe_duckdb_s"]) == len(run["probe_committed_s"]) == run["probes"]
    assert min(run["probe_trino_s"] + run["probe_duckdb_s"]) > min(run["probe_committed_s"]) > 0
    spent = results["freshness"]["cost"]["cpu_s"]
    assert {"api", "kafka", "stream JVM", "stream driver", "postgres", "trino"} <= set(spent)
    assert spent["api"] > 0 and spent["stream JVM"] > 0 and min(spent.values()) >= 0
    by_engine = results["query"]["sizes"]["10000"]
    engines = {name: by_engine[name] for name in ("trino", "duckdb")}
    assert all(e["slowest_s"] > 0 for e in engines.values())
    assert set(engines["trino"]["queries"]) == set(results["query"]["queries"]) >= {"days", "retention", "sword_rates"}
    assert by_engine["same_rows"] == dict.fromkeys(results["query"]["queries"], True), "the engines agree"
    assert set(results["memory"]["peak_gib"]) == {"postgres", "kafka", "trino", "stream", "api"}
    assert results["memory"]["peak_total_gib"] >= sum(results["memory"]["at_rest_gib"].values()) * 0.5
    assert results["soak"]["samples"] and results["soak"]["accepted_rate"] > 0 and results["soak"]["processed_rate"] > 0
    files = results["files"]
    assert files["samples"] and files["accepted"] > 0
    assert files["landed"] == {"sword_purchases": files["accepted"], "events": files["accepted"]}
    assert all(n["partitions"] >= 1 and n["most_files"] >= 1 and n["snapshots"] >= 1 for n in files["end"].values())

    text = doc.read_text()
    headings = ("## Ingest", "## Freshness", "## Cost per stage", "## Report queries", "## Memory", "## Soak")
    for heading in (*headings, "## Files per partition"):
        assert heading in text
    assert "| `make demo` | ≤ 15 min cold, ≤ 3 min warm | | | not measured |" in text
