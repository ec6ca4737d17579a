"""The report's two questions answered with their uncertainty: do guild members keep
playing longer, and what did the sword price change do to sales.

In: the rows of `queries/players.sql` and `queries/player_days.sql` as DataFrames. Out:
an `Estimate`, the effect with a 95 % interval and whether the data can tell it from no
effect at all. Pure: no I/O.

- `guild_retention`: D7 retention (active exactly 7 days after the first day) of players
  who joined a guild on their first day (or the next: a first session past midnight)
  minus everyone else's, over the players whose
  7th day is inside the data. The interval is Newcombe's (two Wilson score intervals):
  exact enough for proportions near 0 or 1 and for small groups.
- `price_change`: swords bought per day of play from the first day sword prices changed
  on, over the rate before it, as a ratio. Its interval comes from a bootstrap over
  players (each player's days stay together, so a heavy buyer is not counted as many
  independent days), seeded: the same data gives the same interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    what: str
    value: float
    low: float
    high: float
    null: float  # the value that means no effect (0 for a difference, 1 for a ratio)
    sample: str  # what it was measured on, for the reader
    detail: dict[str, float]  # the figures it comes from (each group's rate)

    @property
    def clear(self) -> bool:
        """The 95 % interval leaves out `null`: the data tells the effect from none."""
        return not self.low <= self.null <= self.high


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson's 95 % score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def newcombe(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float, float]:
    """p1 - p0 and Newcombe's 95 % interval (method 10: from the two Wilson intervals)."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1)
    l0, u0 = wilson(x0, n0)
    d = p1 - p0
    return d, d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def guild_retention(players: pd.DataFrame, player_days: pd.DataFrame, day_n: int = 7) -> Estimate | None:
    """Guild members' D`day_n` retention minus everyone else's (None: no player's day
    `day_n` is in the data, or a group is empty)."""
    last_day = player_days["day"].max()
    horizon = players["first_day"].map(lambda d: d + timedelta(days=day_n))
    eligible = players[horizon <= last_day].copy()
    if eligible.empty:
        return None
    active = set(zip(player_days["player_id"], player_days["day"], strict=True))
    firsts = zip(eligible["player_id"], eligible["first_day"], strict=True)
    eligible["retained"] = [(p, d + timedelta(days=day_n)) in active for p, d in firsts]
    # Joined by the end of the day after the first: a first session past midnight joins then.
    eligible["member"] = [
        isinstance(g, date) and g <= d + timedelta(days=1)
        for g, d in zip(eligible["guild_day"], eligible["first_day"], strict=True)
    ]
    members, others = eligible[eligible["member"]], eligible[~eligible["member"]]
    if members.empty or others.empty:
        return None
    d, low, high = newcombe(int(members["retained"].sum()), len(members), int(others["retained"].sum()), len(others))
    sample = (
        f"{len(members):,} players who joined a guild on their first day, {len(others):,} who did not "
        f"(first days up to {last_day - timedelta(days=day_n)})"
    )
    rates = {"members": float(members["retained"].mean()), "others": float(others["retained"].mean())}
    return Estimate(f"D{day_n} retention, guild members minus others", d, low, high, 0.0, sample, rates)


def price_change_day(revenue_by_day: pd.DataFrame) -> date | None:
    """The first day on which a sword sold at a unit price other than on the first day."""
    swords = revenue_by_day[revenue_by_day["event_type"] == "purchase_sword"].copy()
    if swords.empty:
        return None
    swords["unit"] = (swords["revenue"].astype(float) / swords["purchases"]).round(2)
    first = swords.groupby("item")["unit"].first()
    changed = swords[swords["unit"] != swords["item"].map(first)]
    return None if changed.empty else min(changed["day"])


def price_change(player_days: pd.DataFrame, change: date, seed: int = 0) -> Estimate | None:
    """Swords per day of play from `change` on, over the rate before (None: no days on
    one side, or no sword bought before)."""
    after = player_days["day"] >= change
    per_player = (
        player_days.assign(after=after)
        .groupby(["player_id", "after"])
        .agg(swords=("swords", "sum"), days=("day", "count"))
        .unstack(fill_value=0)
    )
    if False not in per_player["days"].columns or True not in per_player["days"].columns:
        return None
    s0, s1 = per_player["swords"][False].to_numpy(float), per_player["swords"][True].to_numpy(float)
    n0, n1 = per_player["days"][False].to_numpy(float), per_player["days"][True].to_numpy(float)
    if s0.sum() == 0 or n1.sum() == 0:
        return None
    ratio = (s1.sum() / n1.sum()) / (s0.sum() / n0.sum())
    rng = np.random.default_rng(seed)
    weights = rng.poisson(1.0, size=(BOOTSTRAP_SAMPLES, len(s0))).astype(np.float32)  # Poisson bootstrap
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = (weights @ s1 / (weights @ n1)) / (weights @ s0 / (weights @ n0))
    samples = samples[np.isfinite(samples)]
    low, high = np.quantile(samples, [0.025, 0.975])
    sample = f"{int(n0.sum()):,} days of play before {change}, {int(n1.sum()):,} from it on, {len(s0):,} players"
    rates = {"before": float(s0.sum() / n0.sum()), "after": float(s1.sum() / n1.sum())}
    what = "swords bought per day of play, after the price change over before"
    return Estimate(what, float(ratio), float(low), float(high), 1.0, sample, rates)
