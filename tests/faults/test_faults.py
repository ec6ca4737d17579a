"""The fault suite (the guarantees of docs/architecture.md, issue 16): under steady `ab` load, one real fault
each, and then the ledger closes: every event answered 2xx is once in its table, none is
among the dead letters, and the stream runs again with no hand on it (supervisord
restarts what died; tests/faults/ledger.py). What each fault's repair is:

| fault | repaired by |
|---|---|
| broker SIGKILL | supervisord restarts it |
| broker SIGSTOP for 10 s | SIGCONT (a frozen host that comes back) |
| PostgreSQL stopped for 60 s | the test starts it again (an outage that ends) |
| stream SIGKILL during a table-care round | supervisord restarts it |
| the warehouse's filesystem full | the test frees the space (an operator's fix) |
| one API worker SIGKILL | granian starts a new worker |
| supervisord SIGKILL (its services run on, unsupervised) | `gamepipe up`, which stops them and starts anew |
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest

from gamepipe.config import Settings
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.kafka import Kafka
from gamepipe.stack.manager import up
from gamepipe.stack.postgres import Postgres
from gamepipe.stack.supervisor import Supervisor, stack_orphans
from tests.faults.ledger import under_load, wait_until
from tests.faults.pipeline import OwnPipeline
from tests.stack_helpers import kill_and_await_restart

pytestmark = [pytest.mark.stack, pytest.mark.faults]


def whole(settings: Settings) -> bool:
    """Every service of the pipeline healthy: what 'recovered' means here."""
    return all(s.healthy() for s in (Kafka(settings), Postgres(settings), Stream(settings), Api(settings)))


def test_broker_sigkill_under_load(stack: Settings) -> None:
    def fault() -> float:
        took = kill_and_await_restart(Kafka(stack))
        return took + wait_until(lambda: whole(stack), 180, "the pipeline whole again")

    outcome = under_load(stack, "broker SIGKILL", seed=101, fault=fault)
    assert Stream(stack).healthy()
    assert outcome.manifest.requests.answered_as_expected == outcome.manifest.requests.sent


def test_broker_sigstop_for_10_s_under_load(stack: Settings) -> None:
    """Requests in flight when the broker froze time out (503) with their records possibly
    in Kafka already; the load sends them again with the same ids, and each lands once."""

    def fault() -> float:
        pid = Kafka(stack).pid()
        assert pid is not None
        os.killpg(pid, signal.SIGSTOP)
        try:
            time.sleep(10)
        finally:
            os.killpg(pid, signal.SIGCONT)
        return wait_until(lambda: whole(stack), 180, "the pipeline whole again")

    outcome = under_load(stack, "broker SIGSTOP 10 s", seed=102, fault=fault)
    assert outcome.manifest.requests.retried > 0, "requests were answered 503 (or not at all) and sent again"
    assert outcome.manifest.requests.by_status == {"200": outcome.manifest.requests.sent}


def test_postgres_stopped_for_60_s_under_load(stack: Settings) -> None:
    def fault() -> float:
        catalog = Postgres(stack)
        assert catalog.stop()
        try:
            time.sleep(60)
        finally:
            catalog.start()
        catalog.wait_healthy()
        return wait_until(lambda: whole(stack), 300, "the stream to recover once the catalog is back")

    under_load(stack, "PostgreSQL stopped 60 s", seed=103, fault=fault)


@pytest.fixture
def care_every_15_s(stack: Settings) -> Iterator[Stream]:
    """The stack's stream with table care due 15 s after each round (not the tests' default:
    off), put back as it was afterwards."""
    often = stack.model_copy(update={"stream": stack.stream.model_copy(update={"maintain_every_minutes": 0.25})})
    stream = Stream(often)
    stream.stop()
    stream.start()  # hands the job these settings
    stream.wait_healthy()
    yield stream
    stream.stop()
    stream = Stream(stack)
    stream.start()
    stream.wait_healthy()


def alive(process: psutil.Process) -> bool:
    """Still running and not a zombie: the very process, not a new one with its pid."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {process.status()} pgid {os.getpgid(process.pid)}: {' '.join(process.cmdline())[:200]}"
    except (psutil.NoSuchProcess, ProcessLookupError):
        return f"{process.pid} (gone since)"


def test_stream_sigkill_during_a_table_care_round_under_load(stack: Settings, care_every_15_s: Stream) -> None:
    stream = care_every_15_s

    def care_running() -> bool:
        status = stream.status()
        return status is not None and status.table_care.running

    def fault() -> float:
        wait_until(care_running, 120, "a round of table care")
        pid = stream.pid()
        assert pid is not None
        children = psutil.Process(pid).children(recursive=True)
        took = kill_and_await_restart(stream)
        # is_running() compares the start time too: pid_max is 32,768 here, and the
        # restarted stack may be given a dead child's pid again.
        survivors = [describe(c) for c in children if alive(c)]
        assert not survivors, f"the care child outlived the stream's SIGKILL: {survivors}"
        return took + wait_until(lambda: whole(stack), 180, "the pipeline whole again")

    under_load(stack, "stream SIGKILL during table care", seed=104, fault=fault)


def test_warehouse_filesystem_full_under_load(stack: Settings, full_disk_pipeline: OwnPipeline) -> None:
    pipeline = full_disk_pipeline
    settings = pipeline.settings

    def fault() -> float:
        pipeline.fill_the_disk()
        time.sleep(30)  # the stream's appends fail; supervisord restarts the job, which fails again
        pipeline.free_the_disk()
        return wait_until(lambda: Stream(settings).healthy(), 300, "the stream to recover once there is space")

    note = f"the warehouse on a {pipeline.size_mb} MB tmpfs, filled for 30 s"
    outcome = under_load(settings, "warehouse filesystem full", seed=105, fault=fault, note=note, results_of=stack)
    assert pipeline.stream_crashes() > 0, "the full disk made the stream fail (else this tested nothing)"
    assert outcome.manifest.requests.answered_as_expected == outcome.manifest.requests.sent


def test_one_api_worker_sigkill_under_load(stack: Settings) -> None:
    api = Api(stack)

    def workers() -> list[int]:
        pid = api.pid()
        assert pid is not None
        return [p.pid for p in psutil.Process(pid).children() if p.status() != psutil.STATUS_ZOMBIE]

    def fault() -> float:
        before = workers()
        assert len(before) == stack.api.workers
        os.kill(before[0], signal.SIGKILL)
        return wait_until(
            lambda: len(set(workers()) - set(before)) == 1 and len(workers()) == stack.api.workers,
            60,
            "granian to start a new worker",
        )

    under_load(stack, "one API worker SIGKILL", seed=106, fault=fault)
    assert api.healthy()


def test_supervisord_sigkill_then_up_under_load(stack: Settings) -> None:
    supervisor = Supervisor(stack)

    def fault() -> float:
        pid = supervisor.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: supervisor.pid() is None, 30, "supervisord gone")
        left = stack_orphans(stack.var)
        assert len(left) >= 5, "its services run on without it"
        began = time.monotonic()
        up(stack)  # what a user does next
        assert not [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "the orphans are gone"
        return time.monotonic() - began

    under_load(stack, "supervisord SIGKILL, then up", seed=107, fault=fault)
    assert whole(stack)
