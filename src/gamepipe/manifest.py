"""A load run's record: what was planned (the ground truth), sent and answered.

In: what a load scenario (`load/game.py`, `load/stress.py`) planned and how the API
answered. Out: `Manifest`, saved as `var/runs/<run_id>/manifest.json` and read back by
`gamepipe verify`, the report, the CLI and the tests; and `Verified`, what `verify`
measured once every check passed (`verified.json` beside it). `Truth.of` is the one way
to count a run's events. Pure: reads and writes only those files.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gamepipe.config import Settings
from gamepipe.errors import VerifyError

MANIFEST = "manifest.json"
VERIFIED = "verified.json"


class _Record(BaseModel):
    # Keys another version of gamepipe wrote are ignored, so its runs still verify.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(by_alias=True, indent=2))


class Truth(_Record):
    """What the events a run sent add up to; the tables must hold exactly this."""

    events: int
    by_type: dict[str, int]
    sword_types: dict[str, int]
    guild_joins: dict[str, int]
    isps: dict[str, int]
    hosts: dict[str, int]
    revenue: Decimal
    players: int  # active: sent at least one event
    population: int
    paying_players: int
    client_days: dict[str, int] = {}  # events per UTC date of client_ts (an older gamepipe's run: none)

    @classmethod
    def of(cls, events: Sequence[Mapping[str, Any]], population: int, copies: int = 1) -> Truth:
        """The truth of `events` (plain event dicts with their `_host`), each sent `copies` times."""

        def counted(values: Counter[str]) -> dict[str, int]:
            return {k: v * copies for k, v in sorted(values.items())}

        hosts: Counter[str] = Counter(e["_host"] for e in events)
        isps: Counter[str] = Counter(e["_host"].split(".", 1)[1] for e in events)
        revenue = sum((Decimal(str(e["price"])) for e in events if "price" in e), Decimal(0))
        return cls(
            events=len(events) * copies,
            by_type=counted(Counter(e["event_type"] for e in events)),
            sword_types=counted(Counter(e["sword_type"] for e in events if e["event_type"] == "purchase_sword")),
            guild_joins=counted(Counter(e["guild_name"] for e in events if e["event_type"] == "join_guild")),
            isps=counted(isps),
            hosts=counted(hosts),
            revenue=revenue * copies,
            players=len({e["player_id"] for e in events}) if copies else 0,
            population=population,
            paying_players=len({e["player_id"] for e in events if "price" in e}) if copies else 0,
            client_days=counted(Counter(e["client_ts"][:10] for e in events if e.get("client_ts"))),
        )


class Faults(_Record):
    """How many of each fault the run injected."""

    malformed_bodies: int = 0
    oversize_events: int = 0
    duplicate_event_ids: int = 0
    late_client_ts: int = 0


class Requests(_Record):
    sent: int
    by_kind: dict[str, int]  # visit, batch, malformed, oversize, duplicates
    answered_as_expected: int  # with exactly the status planned for it
    unexpected_by_kind: dict[str, int]
    ok: int = Field(alias="2xx")
    non_2xx: int
    by_status: dict[str, int] = {}  # the last answer of each ("None": no answer at all)
    retried: int = 0  # requests sent again after a 503 or no answer
    attempts: int = 0


class Latency(_Record):
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    note: str


class GameDays(_Record):
    """The game time a `game` run lived (simulate.py): day 0 at `start`, `days` days, and
    the effects it planted, of known size (the report must find them from the data)."""

    start: datetime
    days: int
    d7_lift: float  # guild members' D7 retention minus everyone else's, in expectation
    price_day: int | None  # the game day sword prices rose
    sword_rate_after: float  # swords bought per day of play after that day, over before


class Manifest(_Record):
    run_id: str
    scenario: Literal["game", "stress"] = "game"
    seed: int
    players: int | None = None
    concurrency: int
    truth: Truth
    faults: Faults
    requests: Requests
    accepted_events: int
    elapsed_s: float
    requests_per_s: float | None
    events_per_s: float | None
    latency_ms: Latency
    calls_sample: list[dict[str, Any]] = []
    finished_at: float | None = None  # epoch s the last answer came (None: an older gamepipe's run)
    game: GameDays | None = None  # None: a stress run, or an older gamepipe's

    @classmethod
    def of(
        cls,
        *,
        elapsed_s: float,
        requests_per_s: float | None = None,
        events_per_s: float | None = None,
        **fields: Any,
    ) -> Manifest:
        """The manifest of a run that just ended: rates derived from `elapsed_s` unless given."""
        return cls(
            elapsed_s=round(elapsed_s, 2),
            requests_per_s=requests_per_s if requests_per_s is not None else _per_s(fields["requests"].sent, elapsed_s),
            events_per_s=events_per_s if events_per_s is not None else _per_s(fields["accepted_events"], elapsed_s),
            finished_at=time.time(),
            **fields,
        )

    @classmethod
    def load(cls, settings: Settings, run: str) -> Manifest:
        """A run's manifest by id (or a path to a manifest file)."""
        path = Path(run) if run.endswith(".json") else run_dir(settings, run) / MANIFEST
        if not path.exists():
            known = ", ".join(runs(settings)[-5:]) or "none yet (gamepipe load)"
            raise VerifyError(f"no manifest at {path}; runs: {known}")
        try:
            return cls.model_validate_json(path.read_text())
        except ValidationError as error:
            raise VerifyError(f"{path} is not a run manifest this gamepipe reads: {error}") from None


class Verified(_Record):
    """What `gamepipe verify` saw once every check passed."""

    verified_at: float
    all_visible_within_s: float  # from the run's last answer: an upper bound of freshness
    polled_every_s: float

    @classmethod
    def load(cls, settings: Settings, run_id: str) -> Verified | None:
        path = run_dir(settings, run_id) / VERIFIED
        try:
            return cls.model_validate_json(path.read_text()) if path.exists() else None
        except ValidationError:
            return None  # another version's record: the report says freshness was not measured


def _per_s(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds else None


def run_dir(settings: Settings, run_id: str) -> Path:
    return settings.var / "runs" / run_id


def runs(settings: Settings) -> list[str]:
    """Every run with a manifest, oldest first (run ids begin with their UTC time)."""
    return sorted(p.name for p in (settings.var / "runs").glob("*") if (p / MANIFEST).exists())


def latest_run(settings: Settings) -> str | None:
    found = runs(settings)
    return found[-1] if found else None
