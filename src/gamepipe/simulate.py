"""A seeded game population living game days, the events it produces, and the ground truth.

Pure logic, no I/O: `plan(seed, players, events, start=...)` always returns the same
`Plan` for the same arguments. Players have an ISP host, a platform and a country;
spending is skewed (a few whales, many who never buy); guilds are of uneven popularity
(Zipf); swords have rarities and prices.

Game days: players install on days spread evenly over `days` (default 14) from `start`
(a UTC midnight). Each day after install a player who has not churned yet (churn: a
daily hazard) comes back with a fixed probability, for one or more sessions that start
by a day-night rhythm and last minutes (lognormal). A session opens with a visit, has
page views and purchases, and a player bound for a guild joins it at the end of their
first session. Every event carries `client_ts` (game time: the last game day ends at
`start + days`) and `session_id = <run>-<player>-<session>`, so a run's rows can be found
in any table. Page views per session are scaled so the plan holds `events` events from
about `players` players; exactly `events` (the last player's tail is cut).

Planted effects (`PLANTED`; `NO_EFFECT` plants none), of known size: guild members churn
less (their D7 retention is `Effects.d7_lift` higher), and from game day 7 on swords cost
50 % more and are bought at 0.6 times the rate before (`NO_EFFECT`: prices rise the same,
sales do not fall).
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gamepipe.manifest import Truth

ISPS = ("comcast.com", "att.com", "verizon.net", "spectrum.net", "cox.net", "vodafone.de", "orange.fr", "bt.com")
ISP_WEIGHTS = (30, 22, 15, 12, 6, 6, 5, 4)
PLATFORMS = ("android", "ios", "pc")
PLATFORM_WEIGHTS = (50, 35, 15)
COUNTRIES = ("US", "US", "US", "DE", "FR", "GB", "BR", "IN")

# sword type -> (price, rarity weight)
SWORDS: dict[str, tuple[str, int]] = {
    "wooden": ("0.99", 40),
    "iron": ("2.99", 30),
    "steel": ("4.99", 18),
    "mithril": ("19.99", 8),
    "dragonglass": ("49.99", 4),
}
POTIONS: dict[str, str] = {"health": "0.49", "mana": "0.49", "strength": "1.99"}
SHIELDS: dict[str, str] = {"buckler": "1.99", "kite": "3.99", "tower": "9.99"}
GUILDS = (
    "Knights of Zion", "Dragon Riders", "Shadow Guild", "Iron Wolves", "Moon Circle", "Storm Crows",
    "Ember Hand", "Frost Giants", "Silver Order", "Wandering Bards", "Night Owls", "Deep Delvers",
)  # fmt: skip

# spender class -> (share of players, purchases per session: mean)
SPENDERS: dict[str, tuple[float, float]] = {
    "whale": (0.02, 3.0),
    "dolphin": (0.08, 1.0),
    "minnow": (0.25, 0.25),
    "none": (0.65, 0.0),
}
GUILD_SHARE = 0.66  # of players, bound for a guild (joined at the end of their first session)

DAYS = 14
COMES_BACK = 0.6  # a player who has not churned plays on a given day with this probability
CHURN = 0.12  # a player's daily hazard of leaving for good (guild members: see Effects)
SESSIONS_MORE = 0.5  # sessions on a day of play: 1 + Poisson(this)
SESSION_MEDIAN_MIN, SESSION_SIGMA = 12.0, 0.8  # session length, lognormal
# Sessions start by the hour of game time (UTC): quiet at night, busy in the evening.
HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 6, 6, 7, 8, 10, 12, 12, 10, 7, 5)
PRICE_RISE = 1.5


@dataclass(frozen=True)
class Effects:
    """What a run plants, of known size (all zero/None: a run with no effect)."""

    guild_churn: float = CHURN  # guild members' daily churn hazard (others: CHURN)
    price_day: int | None = None  # game day from which swords cost PRICE_RISE times more (None: never)
    sword_rate_after: float = 1.0  # ... and are bought at this multiple of the rate before

    @property
    def d7_lift(self) -> float:
        """Guild members' D7 retention minus everyone else's, in expectation."""
        return COMES_BACK * ((1 - self.guild_churn) ** 7 - (1 - CHURN) ** 7)


# Both raise sword prices on day 7; only the planted run loses sales to it.
PLANTED = Effects(guild_churn=0.06, price_day=7, sword_rate_after=0.6)
NO_EFFECT = Effects(price_day=7)

RUN_NAMESPACE = uuid.UUID("6f1c1b9e-3c55-4f3e-9a53-5b8e9b3f2a10")


@dataclass(frozen=True)
class Player:
    player_id: str
    host: str
    platform: str
    country: str
    spender: str
    guild: str | None
    install_day: int = 0


@dataclass
class Plan:
    """The events to send, in order, and what they must add up to."""

    run_id: str
    seed: int
    players: list[Player]
    events: list[dict[str, Any]] = field(default_factory=list)
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    days: int = DAYS
    effects: Effects = NO_EFFECT

    def truth(self) -> Truth:
        return Truth.of(self.events, population=len(self.players))


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


def make_player(rng: random.Random, i: int, days: int) -> Player:
    isp = rng.choices(ISPS, ISP_WEIGHTS)[0]
    classes = list(SPENDERS)
    return Player(
        player_id=f"p{i:06d}",
        host=f"user{i}.{isp}",
        platform=rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0],
        country=rng.choice(COUNTRIES),
        spender=rng.choices(classes, [SPENDERS[c][0] for c in classes])[0],
        # Two players in three join a guild; popular guilds get most.
        guild=rng.choices(GUILDS, _zipf_weights(len(GUILDS)))[0] if rng.random() < GUILD_SHARE else None,
        install_day=rng.randrange(days),
    )


def game_start(days: int = DAYS, now: datetime | None = None) -> datetime:
    """Day 0 of a run sent now: the last game day ends at today's UTC midnight."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def plan(
    seed: int,
    players: int,
    events: int,
    run_id: str | None = None,
    days: int = DAYS,
    effects: Effects = PLANTED,
    start: datetime | None = None,
) -> Plan:
    """Exactly `events` events from about `players` players over `days` game days from
    `start` (default: `game_start(days)`), deterministic for given arguments."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not security
    run = run_id or f"r{seed}"
    result = Plan(run, seed, [], start=start or game_start(days), days=days, effects=effects)
    views = _views_per_session(seed, players, events, days, effects)
    while len(result.events) < events:
        player = make_player(rng, len(result.players), days)
        result.players.append(player)
        _live(rng, result, player, views)
    del result.events[events:]
    return result


def _views_per_session(seed: int, players: int, events: int, days: int, effects: Effects) -> float:
    """Mean page views per session that make `players` players send about `events` events:
    from a pilot population of the same kind, without page views."""
    pilot_rng = random.Random(seed ^ 0x5EED)  # noqa: S311
    pilot = Plan("pilot", seed, [], start=datetime(2026, 1, 1, tzinfo=UTC), days=days, effects=effects)
    for i in range(300):
        _live(pilot_rng, pilot, make_player(pilot_rng, i, days), 0.0)
    sessions = len({e["session_id"] for e in pilot.events}) / 300
    base = len(pilot.events) / 300
    return max(0.0, (events / max(players, 1) - base) / max(sessions, 1e-9))


def _live(rng: random.Random, the_plan: Plan, player: Player, views: float) -> None:
    """A player's whole life in the game: its sessions from install day to the last day."""
    effects = the_plan.effects
    churn = effects.guild_churn if player.guild else CHURN
    session_no = 0
    for day in range(player.install_day, the_plan.days):
        if day > player.install_day:
            if rng.random() < churn:
                return
            if rng.random() >= COMES_BACK:
                continue
        for _ in range(1 + _poisson(rng, SESSIONS_MORE)):
            session_no += 1
            _session(rng, the_plan, player, day, session_no, views)


def _session(rng: random.Random, the_plan: Plan, player: Player, day: int, number: int, views: float) -> None:
    run = the_plan.run_id
    session = f"{run}-{player.player_id}-{number}"
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    began = the_plan.start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
    length_s = 60 * SESSION_MEDIAN_MIN * math.exp(rng.gauss(0, SESSION_SIGMA))
    # The game's last day ends at start + days: a late session ends with it.
    length_s = min(length_s, (the_plan.start + timedelta(days=the_plan.days) - began).total_seconds() - 1)
    effects = the_plan.effects
    priced_up = effects.price_day is not None and day >= effects.price_day

    def emit(event_type: str, at: float, **payload: Any) -> None:
        # Unique per run, not only per seed: two runs of one seed are two sets of events
        # (the same ids twice would be deduplicated as retries).
        event_id = str(uuid.uuid5(RUN_NAMESPACE, f"{run}:{rng.getrandbits(64)}"))
        ts = began + timedelta(seconds=at)
        the_plan.events.append(
            {
                "event_type": event_type,
                "event_id": event_id,
                "player_id": player.player_id,
                "session_id": session,
                "client_ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "_host": player.host,
                **payload,
            }
        )

    actions: list[tuple[float, str]] = [(rng.uniform(0, length_s), "view") for _ in range(_poisson(rng, views))]
    for _ in range(_poisson(rng, SPENDERS[player.spender][1])):
        actions.append((rng.uniform(0, length_s), "buy"))
    actions.sort()
    emit("default", 0.0)
    for at, action in actions:
        if action == "view":
            emit("default", at)
            continue
        kind = rng.random()
        if kind < 0.6:
            if priced_up and rng.random() >= effects.sword_rate_after:
                continue  # a sale the price rise lost
            sword = rng.choices(list(SWORDS), [w for _, w in SWORDS.values()])[0]
            price = float(SWORDS[sword][0])
            emit("purchase_sword", at, sword_type=sword, price=round(price * PRICE_RISE, 2) if priced_up else price,
                 currency="USD")  # fmt: skip
        elif kind < 0.85:
            potion = rng.choice(list(POTIONS))
            emit("purchase_potion", at, potion_type=potion, price=float(POTIONS[potion]), currency="USD")
        else:
            shield = rng.choice(list(SHIELDS))
            emit("purchase_shield", at, shield_type=shield, price=float(SHIELDS[shield]), currency="USD")
    if number == 1 and player.guild:
        guild_id = f"g{GUILDS.index(player.guild):02d}"
        emit("join_guild", length_s, guild_id=guild_id, guild_name=player.guild)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # a normal approximation: Knuth's product underflows for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    # Knuth's method: fine for the small means used here.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
