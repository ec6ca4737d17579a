"""The cost table's accounting: each process's CPU time from the kernel, put in its
stage, counted from the start of the window (or from its birth), its children too."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bench.cost import BENCH, CpuAccount, stage
from gamepipe.config import load_settings

MAINTAIN = "python -m gamepipe maintain --json"


@pytest.mark.parametrize(
    ("service", "name", "chain", "expected"),
    [
        ("stream", "python3", ["python -m gamepipe.stream --var var"], "stream driver"),
        ("stream", "java", ["java -cp spark.jar org.apache.spark.deploy.SparkSubmit pyspark-shell"], "stream JVM"),
        ("stream", "java", ["java -cp spark.jar SparkSubmit", MAINTAIN], "table care"),
        ("stream", "python3", [MAINTAIN], "table care"),
        ("kafka", "java", ["java kafka.Kafka server.properties"], "kafka"),
    ],
)
def test_a_process_is_put_in_its_stage(service: str, name: str, chain: list[str], expected: str) -> None:
    assert stage(service, name, chain) == expected


# Burns CPU before the window (not counted), says so, burns in the window, then starts a
# child that burns and outlives a sample; each prints the CPU seconds it spent in the window.
WORKER = textwrap.dedent(
    """
    import subprocess, sys, time

    def burn(n):
        started = time.process_time()
        x = 0
        for i in range(n):
            x += i * i
        return time.process_time() - started

    burn(10_000_000)
    print("ready", flush=True)
    sys.stdin.readline()
    spent = burn(3_000_000)
    child = subprocess.run(
        [sys.executable, "-c", "import time\\nt = time.process_time()\\nx = sum(i * i for i in range(3_000_000))\\n"
         "print(time.process_time() - t, flush=True)\\ntime.sleep(1.2)"],
        capture_output=True, text=True, check=True,
    )
    print(spent, float(child.stdout), flush=True)
    time.sleep(1.2)
    """
)


def test_the_account_counts_a_tree_from_the_window_on_children_born_in_it_included() -> None:
    argv = [sys.executable, "-c", WORKER]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as worker:
        assert worker.stdin and worker.stdout
        try:
            assert worker.stdout.readline().strip() == "ready"
            account = CpuAccount(load_settings())
            account.start(roots={"api": worker.pid})
            worker.stdin.write("go\n")
            worker.stdin.flush()
            own, child = map(float, worker.stdout.readline().split())
            worker.wait(timeout=30)
            account.stop()
        finally:
            worker.kill()
    spent = account.seconds()
    # What the worker burned before the window (three times the rest) is not counted; the
    # child's is, though it was born after the start. The kernel counts in 10 ms ticks;
    # the child's interpreter start-up adds a little.
    assert own + child - 0.05 <= spent["api"] <= own + child + 0.15, (own, child, spent)
    assert set(spent) == {"api", BENCH}
    result = account.result(events=2000)
    assert result["cpu_s_per_1000_events"]["api"] == pytest.approx(spent["api"] / 2)
