"""Running Apache Bench (`ab`) and reading what it reports.

In: a URL, a request count, a concurrency, headers, optionally a body to POST. Out:
`AbStats` (complete, failed, non-2xx, requests/s, latency percentiles); for a single
request (`ab_once`, `ab -v 2`), the exact status it was answered with.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gamepipe.errors import LoadError


@dataclass(frozen=True)
class AbStats:
    complete: int
    failed: int
    length_failures: int
    non_2xx: int
    requests_per_s: float
    percentiles_ms: dict[int, int] = field(default_factory=dict)
    mean_ms: float | None = None

    @property
    def ok(self) -> int:
        """Requests answered 2xx. `ab` counts a changed body length as a failure though
        the answer arrived; connect/receive/exception failures got no answer at all."""
        return self.complete - self.non_2xx - (self.failed - self.length_failures)


def parse_ab(output: str) -> AbStats:
    """Read the summary `ab` prints; raises LoadError if it is not there."""

    def number(label: str, default: str | None = None) -> str:
        m = re.search(rf"^{re.escape(label)}:\s+([0-9.]+)", output, re.MULTILINE)
        if m:
            return m.group(1)
        if default is not None:
            return default
        raise LoadError(f"`ab` output has no {label!r} line:\n{output[-2000:]}")

    mean = re.search(r"^Time per request:\s+([0-9.]+) \[ms\] \(mean\)$", output, re.MULTILINE)
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
        mean_ms=float(mean.group(1)) if mean else None,
    )


# `ab -v 2` prints the response's headers after this line.
STATUS_LINE = re.compile(r"^LOG: header received:\s*\nHTTP/1\.[01] (\d{3})", re.MULTILINE)


@dataclass(frozen=True)
class AbAnswer:
    """One request's answer: its status (None: no answer at all) and `ab`'s latency."""

    status: int | None
    latency_ms: float | None


def parse_once(output: str) -> AbAnswer:
    """The answer to `ab -v 2 -n 1` (see `ab_once`)."""
    match = STATUS_LINE.search(output)
    mean = re.search(r"^Time per request:\s+([0-9.]+) \[ms\] \(mean\)$", output, re.MULTILINE)
    return AbAnswer(int(match.group(1)) if match else None, float(mean.group(1)) if mean else None)


def ab_argv(
    url: str,
    requests: int,
    concurrency: int = 1,
    headers: dict[str, str] | None = None,
    body: Path | str | None = None,
    seconds: float | None = None,
    verbose: bool = False,
) -> list[str]:
    """The `ab` command line, the one place it is built: `requests` at `concurrency`
    (stopping after `seconds` if given, whichever comes first), POSTing the JSON file
    `body` if given; `verbose` (`-v 2`) prints the answers' headers (`parse_once`)."""
    argv = ["ab", "-q"]
    if seconds:  # before -n: `-t` also sets the request count to 50,000, and the later option wins
        argv += ["-t", str(seconds)]
    argv += ["-n", str(requests), "-c", str(concurrency)]
    if verbose:
        argv += ["-v", "2"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if body:
        argv += ["-p", str(body), "-T", "application/json"]
    return [*argv, url]


def ab_once(url: str, headers: dict[str, str], body: Path | str | None = None) -> AbAnswer:
    """One request with `ab`, POSTing the file `body` if given; the exact status."""
    ab_path()  # says what to do when `ab` is missing
    argv = ab_argv(url, 1, headers=headers, body=body, verbose=True)
    result = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    return parse_once(result.stdout)


def ab_path() -> str:
    path = shutil.which("ab")
    if path is None:
        raise LoadError("Apache Bench (`ab`) not found", "run `make setup` (installs Debian's apache2-utils)")
    return path


def run_ab(
    url: str,
    requests: int,
    concurrency: int = 1,
    headers: dict[str, str] | None = None,
    body: Path | str | None = None,
    seconds: float | None = None,
) -> AbStats:
    """One `ab` run (see `ab_argv`) and its summary."""
    ab_path()  # says what to do when `ab` is missing
    argv = ab_argv(url, requests, concurrency, headers, body, seconds)
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "Complete requests" not in result.stdout:
        raise LoadError(f"`ab` failed against {url}: {result.stderr.strip() or result.stdout[-500:]}")
    return parse_ab(result.stdout)
