"""The report's two questions answered with their uncertainty: do guild members keep
playing longer, and what did the sword price change do to sales.

In: the rows of `queries/guild_retention.sql`, `revenue_by_day.sql` and
`sword_rates.sql` as DataFrames: counts, not a row per player (9,539 rows at most at
10 M events). Out: an `Estimate`, the effect with a 95 % interval and whether the
data can tell it from no effect at all. Pure: no I/O.

- `guild_retention`: D7 retention (active exactly 7 days after the first day) of players
  who joined a guild on their first day (or the next: a first session past midnight)
  minus everyone else's, over the players whose 7th day is inside the data. The
  interval is Newcombe's (two Wilson score intervals): exact enough for proportions near
  0 or 1 and for small groups.
- `price_change`: swords bought per day of play from the first day sword prices changed
  on, over the rate before it, as a ratio. Its interval comes from a bootstrap over
  players (each player's days stay together, so a heavy buyer is not counted as many
  independent days), seeded: the same data gives the same interval. It is a Poisson
  bootstrap (each player weighed by a Poisson(1) draw), over the rows of players with the
  same four numbers: n players' weights sum to one Poisson(n) draw, so a row stands for
  its players exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 2000
RETENTION_DAY = 7  # queries/guild_retention.sql's `retained`: active 7 days after the first


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


def guild_retention(counts: pd.DataFrame, last_day: date) -> Estimate | None:
    """Guild members' D7 retention minus everyone else's, from the counts of
    queries/guild_retention.sql (first_day, member, retained, players) and the last day
    in the data (None: no player's day 7 is in it, or a group is empty)."""
    eligible = counts[counts["first_day"].map(lambda d: d + timedelta(days=RETENTION_DAY) <= last_day)]
    members, others = eligible[eligible["member"] == 1], eligible[eligible["member"] == 0]
    n1, n0 = int(members["players"].sum()), int(others["players"].sum())
    if not n1 or not n0:
        return None
    x1 = int(members.loc[members["retained"] == 1, "players"].sum())
    x0 = int(others.loc[others["retained"] == 1, "players"].sum())
    d, low, high = newcombe(x1, n1, x0, n0)
    sample = (
        f"{n1:,} players who joined a guild on their first day, {n0:,} who did not "
        f"(first days up to {last_day - timedelta(days=RETENTION_DAY)})"
    )
    rates = {"members": x1 / n1, "others": x0 / n0}
    return Estimate(f"D{RETENTION_DAY} retention, guild members minus others", d, low, high, 0.0, sample, rates)


def price_change_day(revenue_by_day: pd.DataFrame) -> date | None:
    """The first day on which a sword sold at a unit price other than on the first day."""
    swords = revenue_by_day[revenue_by_day["event_type"] == "purchase_sword"].copy()
    if swords.empty:
        return None
    swords["unit"] = (swords["revenue"].astype(float) / swords["purchases"]).round(2)
    first = swords.groupby("item")["unit"].first()
    changed = swords[swords["unit"] != swords["item"].map(first)]
    return None if changed.empty else min(changed["day"])


def price_change(rates: pd.DataFrame, change: date, seed: int = 0) -> Estimate | None:
    """Swords per day of play from `change` on, over the rate before, from the rows of
    queries/sword_rates.sql for that day (None: no days on one side, or no sword bought
    before)."""
    s0, n0 = rates["swords_before"].to_numpy(float), rates["days_before"].to_numpy(float)
    s1, n1 = rates["swords_after"].to_numpy(float), rates["days_after"].to_numpy(float)
    players = rates["players"].to_numpy(float)
    swords_before, days_before, swords_after, days_after = (x @ players for x in (s0, n0, s1, n1))
    if swords_before == 0 or days_after == 0:
        return None
    before, after = swords_before / days_before, swords_after / days_after
    rng = np.random.default_rng(seed)
    # Poisson bootstrap: each row's players weigh Poisson(players) together.
    weights = rng.poisson(players, size=(BOOTSTRAP_SAMPLES, len(players))).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = (weights @ s1 / (weights @ n1)) / (weights @ s0 / (weights @ n0))
    samples = samples[np.isfinite(samples)]
    low, high = np.quantile(samples, [0.025, 0.975])
    sample = (
        f"{int(days_before):,} days of play before {change}, {int(days_after):,} from it on, "
        f"{int(players.sum()):,} players"
    )
    what = "swords bought per day of play, after the price change over before"
    detail = {"before": float(before), "after": float(after)}
    return Estimate(what, float(after / before), float(low), float(high), 1.0, sample, detail)
