"""A game team's numbers computed in Python from a plan's events: the ground truth the
queries of `queries/` must return on every engine (tests/e2e/test_game_days.py).

In: plain event dicts as `simulate.plan` makes them (`client_ts` an RFC 3339 string,
`price` a float). Out: rows in the shape and order of the query of the same name
(`days`, `retention`, `funnel`, `revenue_by_day`, `session_lengths`, `first_purchase`,
`guild_retention`, `sword_rates`, `players`). Pure: no I/O.
Day = the UTC date of `client_ts`; seconds are whole milliseconds / 1000, as in the queries.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

Event = Mapping[str, Any]
ITEM = {"purchase_sword": "sword_type", "purchase_potion": "potion_type", "purchase_shield": "shield_type"}


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["client_ts"].replace("Z", "+00:00"))


def _price(event: Event) -> Decimal:
    return Decimal(str(event["price"])).quantize(Decimal("0.01"))


def _activity(events: Iterable[Event]) -> dict[tuple[str, date], Decimal | None]:
    """(player, day) -> the day's revenue (None: nothing bought)."""
    out: dict[tuple[str, date], Decimal | None] = {}
    for e in events:
        key = (e["player_id"], at(e).date())
        spent = _price(e) if e.get("price") is not None else None
        before = out.get(key)
        out[key] = before if spent is None else (spent if before is None else before + spent)
    return out


def days(events: Iterable[Event]) -> list[tuple[date, int, int, int, int, Decimal, int]]:
    """queries/days.sql: day, dau, new, returning, wau, revenue, paying players."""
    activity = _activity(events)
    first: dict[str, date] = {}
    for player, day in activity:
        first[player] = min(day, first.get(player, day))
    by_day: dict[date, list[tuple[str, Decimal | None]]] = defaultdict(list)
    for (player, day), revenue in activity.items():
        by_day[day].append((player, revenue))
    rows = []
    for day in sorted(by_day):
        players = by_day[day]
        week = {p for (p, d) in activity if day - timedelta(days=6) <= d <= day}
        rows.append(
            (
                day,
                len(players),
                sum(1 for p, _ in players if first[p] == day),
                sum(1 for p, _ in players if first[p] < day),
                len(week),
                sum((r for _, r in players if r is not None), Decimal(0)),
                sum(1 for _, r in players if r is not None and r > 0),
            )
        )
    return rows


def retention(events: Iterable[Event]) -> list[tuple[date, int, int]]:
    """queries/retention.sql: cohort, day_n, players active that day."""
    active = {(e["player_id"], at(e).date()) for e in events}
    cohort: dict[str, date] = {}
    for player, day in active:
        cohort[player] = min(day, cohort.get(player, day))
    counts: dict[tuple[date, int], int] = defaultdict(int)
    for player, day in active:
        counts[(cohort[player], (day - cohort[player]).days)] += 1
    return [(c, n, k) for (c, n), k in sorted(counts.items())]


def funnel(events: Iterable[Event]) -> tuple[int, int, int]:
    """queries/funnel.sql: visited, then purchased, then joined a guild."""
    visit: dict[str, datetime] = {}
    purchase: dict[str, datetime] = {}
    join: dict[str, datetime] = {}
    for e in events:
        p, t = e["player_id"], at(e)
        if e["event_type"] == "default":
            visit[p] = min(t, visit.get(p, t))
        if e.get("price") is not None:
            purchase[p] = min(t, purchase.get(p, t))
        if e["event_type"] == "join_guild":
            join[p] = max(t, join.get(p, t))
    bought = {p for p, t in purchase.items() if p in visit and t >= visit[p]}
    joined = {p for p in bought if p in join and join[p] >= purchase[p]}
    return len(visit), len(bought), len(joined)


def revenue_by_day(events: Iterable[Event]) -> list[tuple[date, str, str, int, Decimal]]:
    """queries/revenue_by_day.sql: day, item family, item, purchases, revenue."""
    sums: dict[tuple[date, str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for e in events:
        if e.get("price") is None:
            continue
        row = sums[(at(e).date(), e["event_type"], e[ITEM[e["event_type"]]])]
        row[0] += 1
        row[1] += _price(e)
    return [(*key, n, r) for key, (n, r) in sorted(sums.items())]


def _ms(later: datetime, earlier: datetime) -> int:
    """Whole milliseconds, as the queries count them (their seconds are these / 1000)."""
    return (later - earlier) // timedelta(milliseconds=1)


def session_lengths(events: Iterable[Event]) -> list[tuple[int, int]]:
    """queries/session_lengths.sql: whole seconds from a session's first event to its last, sessions."""
    spans: dict[tuple[str, str], list[datetime]] = {}
    for e in events:
        t = at(e)
        span = spans.setdefault((e["session_id"], e["player_id"]), [t, t])
        span[0], span[1] = min(span[0], t), max(span[1], t)
    counts = Counter(_ms(last, first) // 1000 for first, last in spans.values())
    return sorted(counts.items())


def first_purchase(events: Iterable[Event]) -> list[tuple[int, int]]:
    """queries/first_purchase.sql: whole minutes from a player's first event to their first purchase, players."""
    first: dict[str, datetime] = {}
    bought: dict[str, datetime] = {}
    for e in events:
        p, t = e["player_id"], at(e)
        first[p] = min(t, first.get(p, t))
        if e.get("price") is not None:
            bought[p] = min(t, bought.get(p, t))
    return sorted(Counter(_ms(t, first[p]) // 60_000 for p, t in bought.items()).items())


def guild_retention(events: Iterable[Event]) -> list[tuple[date, int, int, int]]:
    """queries/guild_retention.sql: first day, joined a guild by the day after it (0/1),
    active 7 days after it (0/1), players."""
    active: dict[str, set[date]] = defaultdict(set)
    joined: dict[str, set[date]] = defaultdict(set)
    for e in events:
        day = at(e).date()
        active[e["player_id"]].add(day)
        if e["event_type"] == "join_guild":
            joined[e["player_id"]].add(day)
    counts: Counter[tuple[date, int, int]] = Counter()
    for player, played in active.items():
        first = min(played)
        member = any(d <= first + timedelta(days=1) for d in joined[player])
        counts[(first, int(member), int(first + timedelta(days=7) in played))] += 1
    return [(*key, n) for key, n in sorted(counts.items())]


def sword_rates(events: Iterable[Event], change: date) -> list[tuple[int, int, int, int, int]]:
    """queries/sword_rates.sql: swords and days played before `change` and from it on, players."""
    swords: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        swords[e["player_id"]][at(e).date()] += e["event_type"] == "purchase_sword"
    counts: Counter[tuple[int, int, int, int]] = Counter()
    for per_day in swords.values():
        before = [n for d, n in per_day.items() if d < change]
        after = [n for d, n in per_day.items() if d >= change]
        counts[(sum(before), len(before), sum(after), len(after))] += 1
    return [(*key, n) for key, n in sorted(counts.items())]


def players(events: Iterable[Event]) -> list[tuple[str, date, int, int, int, int, Decimal, date | None, float | None]]:
    """queries/players.sql: player, first day, days active, sessions, events, purchases,
    revenue, the day of their guild join, seconds from the first event to the first purchase."""
    by_player: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_player[e["player_id"]].append(e)
    rows = []
    for player, own in sorted(by_player.items()):
        times = [at(e) for e in own]
        bought = [t for e, t in zip(own, times, strict=True) if e.get("price") is not None]
        joins = [t.date() for e, t in zip(own, times, strict=True) if e["event_type"] == "join_guild"]
        rows.append(
            (
                player,
                min(times).date(),
                len({t.date() for t in times}),
                len({e["session_id"] for e in own}),
                len(own),
                len(bought),
                sum((_price(e) for e in own if e.get("price") is not None), Decimal(0)),
                min(joins) if joins else None,
                _ms(min(bought), min(times)) / 1000 if bought else None,
            )
        )
    return rows
