"""The stack as containers does what the README's Docker section says: the seed's `ab`
traffic from the tools container lands, counted through Trino's CLI in the trino container;
a game run loaded from the api container reconciles (`gamepipe verify`) and its report is
written to deploy/reports/ on the host; a service killed mid-load is started again by
Docker and no acknowledged event is lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections import Counter

import pytest

from gamepipe.load.seed import ROUTE_EVENT, SEED_PLAN, SEED_REQUESTS
from tests.docker.conftest import PROJECT, Compose

pytestmark = pytest.mark.docker
TABLE_OF = {"purchase_sword": "sword_purchases", "join_guild": "join_guilds"}


def trino(compose: Compose, sql: str) -> list[list[str]]:
    """Rows of `sql` from Trino's CLI in the trino container, the seed's session."""
    argv = ["trino", "--catalog", "hive", "--schema", "default", "--output-format", "TSV", "--execute", sql]
    out = compose.exec("trino", *argv).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def test_compose_file_is_valid(compose: Compose) -> None:
    assert compose.run("config", "--quiet").returncode == 0


def test_seed_traffic_from_tools_lands_and_trino_counts_it(compose: Compose) -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for host, route in SEED_PLAN:
        out = compose.exec(
            "tools", "ab", "-n", str(SEED_REQUESTS), "-H", f"Host: {host}", f"http://api:5000{route}"
        ).stdout
        assert f"Complete requests:      {SEED_REQUESTS}" in out, out
        assert "Non-2xx responses" not in out, out
        if (table := TABLE_OF.get(ROUTE_EVENT[route])) is not None:
            expected[(table, host)] += SEED_REQUESTS
    sql = " union all ".join(
        f"select '{t}', host, count(*) from {t} group by host" for t in sorted({t for t, _ in expected})
    )
    deadline = time.monotonic() + 120
    while True:
        found = Counter({(t, h): int(n) for t, h, n in trino(compose, sql)})
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert found == expected
    # Every request of the plan is a record of the topic, as kcat reads it from the tools.
    records = compose.exec("tools", "kcat", "-b", "kafka:9092", "-t", "events", "-C", "-e", "-q", "-f", "%o\\n").stdout
    assert len(records.split()) == len(SEED_PLAN) * SEED_REQUESTS


def test_api_and_trino_are_published_on_the_host(compose: Compose) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{compose.api_port}/readyz", timeout=10) as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{compose.trino_port}/v1/info", timeout=10) as resp:
        assert json.load(resp)["starting"] is False


def test_game_run_from_api_reconciles_and_reports(compose: Compose) -> None:
    loaded = compose.exec(
        "api", "gamepipe", "load", "--scenario", "game", "--players", "100", "--events", "3000", "--seed", "5"
    )
    assert "events accepted" in loaded.stdout, loaded.stdout
    verified = compose.exec("api", "gamepipe", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "checks passed" in verified.stdout
    reported = compose.exec("api", "gamepipe", "report", check=False, timeout=900)
    assert reported.returncode == 0, reported.stdout + reported.stderr
    html = compose.deploy / "reports" / "report.html"
    assert html.exists() and html.stat().st_size > 100_000, reported.stdout


@pytest.mark.parametrize("service", ["stream", "kafka"])
def test_a_service_killed_under_load_restarts_and_the_ledger_closes(compose: Compose, service: str) -> None:
    """SIGKILL the service's whole container (its main process, from this machine) in the
    middle of a load run; Docker starts it again; every event answered 2xx lands once."""
    load = subprocess.Popen(
        ["docker-compose", "-p", PROJECT, "exec", "-T", "api", "gamepipe", "load", "--scenario", "game",
         "--players", "200", "--events", "20000", "--concurrency", "4", "--seed", str(len(service))],
        cwd=compose.deploy, env=compose.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(8)
    cid = compose.container(service)
    pid = int(compose.engine.docker("inspect", "--format", "{{.State.Pid}}", cid).stdout)
    os.kill(pid, signal.SIGKILL)
    out, _ = load.communicate(timeout=600)
    assert load.returncode == 0, out
    compose.wait_healthy(300)
    restarts = int(compose.engine.docker("inspect", "--format", "{{.RestartCount}}", cid).stdout)
    assert restarts >= 1, f"{service} was not restarted by Docker"
    verified = compose.exec("api", "gamepipe", "verify", "--wait", "300", check=False, timeout=900)
    assert verified.returncode == 0, verified.stdout + verified.stderr
