"""A seeded game population and the events it produces, with the ground truth.

Pure logic, no I/O: `plan(seed, players, events)` always returns the same `Plan` for the
same arguments. Players have an ISP host, a platform and a country; spending is skewed
(a few whales, many who never buy); guilds are of uneven popularity (Zipf); swords have
rarities and prices. Every event carries `session_id = <run>-<player>-<session>`, so a
run's rows can be found in any table.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
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
    "whale": (0.02, 6.0),
    "dolphin": (0.08, 2.0),
    "minnow": (0.25, 0.5),
    "none": (0.65, 0.0),
}


RUN_NAMESPACE = uuid.UUID("6f1c1b9e-3c55-4f3e-9a53-5b8e9b3f2a10")


@dataclass(frozen=True)
class Player:
    player_id: str
    host: str
    platform: str
    country: str
    spender: str
    guild: str | None


@dataclass
class Plan:
    """The events to send, in order, and what they must add up to."""

    run_id: str
    seed: int
    players: list[Player]
    events: list[dict[str, Any]] = field(default_factory=list)

    def truth(self) -> Truth:
        return Truth.of(self.events, population=len(self.players))


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


def make_players(rng: random.Random, count: int) -> list[Player]:
    classes = list(SPENDERS)
    shares = [SPENDERS[c][0] for c in classes]
    guild_weights = _zipf_weights(len(GUILDS))
    players = []
    for i in range(count):
        isp = rng.choices(ISPS, ISP_WEIGHTS)[0]
        players.append(
            Player(
                player_id=f"p{i:06d}",
                host=f"user{i}.{isp}",
                platform=rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0],
                country=rng.choice(COUNTRIES),
                spender=rng.choices(classes, shares)[0],
                # Two players in three join a guild; popular guilds get most.
                guild=rng.choices(GUILDS, guild_weights)[0] if rng.random() < 0.66 else None,
            )
        )
    return players


def plan(seed: int, players: int, events: int, run_id: str | None = None) -> Plan:
    """About `events` events from `players` players (exactly `events`: the last session
    is cut), deterministic for a given seed."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not security
    run = run_id or f"r{seed}"
    result = Plan(run, seed, make_players(rng, players))
    joined: set[str] = set()
    session_no: Counter[str] = Counter()
    sword_types = list(SWORDS)
    sword_weights = [SWORDS[s][1] for s in sword_types]
    while len(result.events) < events:
        player = rng.choice(result.players)
        session_no[player.player_id] += 1
        session = f"{run}-{player.player_id}-{session_no[player.player_id]}"

        def emit(event_type: str, player: Player = player, session: str = session, **payload: Any) -> None:
            # Unique per run, not only per seed: two runs of one seed are two sets of events
            # (the same ids twice would be deduplicated as retries).
            event_id = str(uuid.uuid5(RUN_NAMESPACE, f"{run}:{rng.getrandbits(64)}"))
            result.events.append(
                {
                    "event_type": event_type,
                    "event_id": event_id,
                    "player_id": player.player_id,
                    "session_id": session,
                    "_host": player.host,
                    **payload,
                }
            )

        emit("default")
        if player.guild and player.player_id not in joined and rng.random() < 0.5:
            joined.add(player.player_id)
            emit("join_guild", guild_id=f"g{GUILDS.index(player.guild):02d}", guild_name=player.guild)
        purchases = _poisson(rng, SPENDERS[player.spender][1])
        for _ in range(purchases):
            kind = rng.random()
            if kind < 0.6:
                sword = rng.choices(sword_types, sword_weights)[0]
                emit("purchase_sword", sword_type=sword, price=float(SWORDS[sword][0]), currency="USD")
            elif kind < 0.85:
                potion = rng.choice(list(POTIONS))
                emit("purchase_potion", potion_type=potion, price=float(POTIONS[potion]), currency="USD")
            else:
                shield = rng.choice(list(SHIELDS))
                emit("purchase_shield", shield_type=shield, price=float(SHIELDS[shield]), currency="USD")
    del result.events[events:]
    return result


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    # Knuth's method: fine for the small means used here.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
