"""Traffic with Apache Bench (`ab`), as the seed generated it.

In: a scenario name. Out: the `ab` runs made, each with what was sent and how it was
answered (`AbRun`), and the expected landings per event type. The `seed` scenario is
the seed's `generate_data.sh` loop body, once through: six `ab -n 10` runs from two
hosts. Reads settings: api.host, api.port.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gamepipe.config import Settings

# route path -> event type (the API's seed routes)
ROUTE_EVENT = {
    "/": "default",
    "/purchase_a_sword": "purchase_sword",
    "/purchase_a_shield": "purchase_shield",
    "/join_guild": "join_guild",
    "/purchase_a_potion": "purchase_potion",
}

# The seed's generate_data.sh, one pass: (Host header, route), each `ab -n 10`.
SEED_PLAN: tuple[tuple[str, str], ...] = (
    ("user1.comcast.com", "/"),
    ("user1.comcast.com", "/purchase_a_sword"),
    ("user1.comcast.com", "/join_guild"),
    ("user2.att.com", "/"),
    ("user2.att.com", "/purchase_a_sword"),
    ("user1.comcast.com", "/join_guild"),
)
SEED_REQUESTS = 10


class LoadError(RuntimeError):
    """`ab` is missing or could not run; the message says what to do."""


@dataclass(frozen=True)
class AbStats:
    complete: int
    failed: int
    length_failures: int
    non_2xx: int
    requests_per_s: float
    percentiles_ms: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        """Requests answered 2xx. `ab` counts a changed body length as a failure though
        the answer arrived; connect/receive/exception failures got no answer at all."""
        return self.complete - self.non_2xx - (self.failed - self.length_failures)


@dataclass(frozen=True)
class AbRun:
    host: str
    route: str
    requests: int
    stats: AbStats

    @property
    def event_type(self) -> str:
        return ROUTE_EVENT[self.route]


def parse_ab(output: str) -> AbStats:
    """Read the summary `ab` prints; raises LoadError if it is not there."""

    def number(label: str, default: str | None = None) -> str:
        m = re.search(rf"^{re.escape(label)}:\s+([0-9.]+)", output, re.MULTILINE)
        if m:
            return m.group(1)
        if default is not None:
            return default
        raise LoadError(f"`ab` output has no {label!r} line:\n{output[-2000:]}")

    # "Failed requests: 3\n   (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)"
    length = re.search(r"\(Connect: \d+, Receive: \d+, Length: (\d+)", output)
    percentiles = {int(p): int(ms) for p, ms in re.findall(r"^\s+(\d+)%\s+(\d+)", output, re.MULTILINE)}
    return AbStats(
        complete=int(number("Complete requests")),
        failed=int(number("Failed requests")),
        length_failures=int(length.group(1)) if length else 0,
        # ab prints this line only when some answers were not 2xx.
        non_2xx=int(number("Non-2xx responses", "0")),
        requests_per_s=float(number("Requests per second")),
        percentiles_ms=percentiles,
    )


def ab_path() -> str:
    path = shutil.which("ab")
    if path is None:
        raise LoadError("Apache Bench (`ab`) not found; run `make setup` (installs Debian's apache2-utils)")
    return path


def run_ab(url: str, requests: int, concurrency: int = 1, headers: dict[str, str] | None = None) -> AbStats:
    argv = [ab_path(), "-q", "-n", str(requests), "-c", str(concurrency)]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "Complete requests" not in result.stdout:
        raise LoadError(f"`ab` failed against {url}: {result.stderr.strip() or result.stdout[-500:]}")
    return parse_ab(result.stdout)


def run_seed(settings: Settings, say: Callable[[str], None] = print) -> list[AbRun]:
    base = f"http://{settings.api.host}:{settings.api.port}"
    runs = []
    for host, route in SEED_PLAN:
        stats = run_ab(base + route, SEED_REQUESTS, headers={"Host": host})
        run = AbRun(host, route, SEED_REQUESTS, stats)
        say(
            f"  ab -n {SEED_REQUESTS} -H 'Host: {host}' {route:<18} -> {stats.ok} x 2xx, "
            f"{stats.non_2xx} non-2xx, {stats.failed} failed"
        )
        runs.append(run)
    return runs


def accepted_by_type(runs: list[AbRun]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for run in runs:
        counts[run.event_type] += run.stats.ok
    return counts
