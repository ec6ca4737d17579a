"""The stream's dedup: each event id kept once within `stream.dedup_window_s` of event
time.

In, per micro-batch: a pyarrow Table with one row per Kafka record (the columns of
`transform.dedup_key_columns`): for a valid event its key (a 128-bit hash of `event_id`:
two 64-bit xxhash64 with different seeds, `hi` and `lo`) and `received_at` in
microseconds (`at`), for every record its Kafka `partition` and `offset`. Rejected
records have no key and are never copies. Out: a `Verdict` saying which rows are copies
of an id seen before, in an earlier micro-batch within the window or earlier in this one
in Kafka order (the first copy is kept). Once the batch is in its tables, `remember`
adds its kept keys to the window and saves them, one file per micro-batch beside the
checkpoint (on this disk or HDFS: gamepipe/storage.py), written durably with an index of
the files (`window.json`) before the batch counts as done, so a job restarted after a
crash checks the re-run batch against exactly the window the crashed one had. A file
that is damaged, or listed in the index and missing (or no index at all once batches
have run), is found at start and named (`Dedup.start` returns the trouble); the job then
rebuilds the window from the tables' recent ids (`Dedup.rebuild`, stream/writer.py) instead
of failing every start or admitting copies.

Why not Spark's `dropDuplicatesWithinWatermark`: it scans its whole state store in every
micro-batch to expire ids, so each batch costs O(rate x window); at 20,000 events/s with
a 2-minute window that scan and the state updates took most of the stream's time
(docs/decisions.md). Here a batch costs a lookup of its own keys in sorted arrays.

An event more than the window older than the newest one seen (a partition far behind the
other, an event written straight to Kafka with an old `received_at`) is kept, never
dropped: it is checked against the ids the window still holds, and counted as late. An
event time more than a minute ahead of the clock moves the window on no further than
that.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gamepipe.storage import Directory

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# An event time later than the clock by more than this does not move the window on: one
# record with a wrong received_at (written straight to Kafka) would otherwise expire
# every id held.
CLOCK_SLACK_US = 60 * 1_000_000

# The recent run is merged into the base run once it holds a quarter as many keys (at
# least this many): each merge copies the whole window, so it happens every few minutes.
MIN_MERGE = 200_000


@dataclass(frozen=True)
class Keys:
    """Event-id keys with their event time, as parallel arrays."""

    hi: Int64s
    lo: Int64s
    at: Int64s  # received_at, microseconds since the epoch

    @staticmethod
    def empty() -> Keys:
        return Keys(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))

    @staticmethod
    def concat(parts: list[Keys]) -> Keys:
        if not parts:
            return Keys.empty()
        return Keys(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("hi", "lo", "at")))

    def __len__(self) -> int:
        return len(self.hi)

    def take(self, which: Int64s | Bools) -> Keys:
        return Keys(self.hi[which], self.lo[which], self.at[which])

    def by_hi(self) -> Keys:
        return self.take(np.argsort(self.hi, kind="stable"))


def merge(a: Keys, b: Keys) -> Keys:
    """Two runs sorted by `hi` into one (each key of `b` inserted where it belongs)."""
    where = np.searchsorted(a.hi, b.hi)
    return Keys(np.insert(a.hi, where, b.hi), np.insert(a.lo, where, b.lo), np.insert(a.at, where, b.at))


def member(run: Keys, hi: Int64s, lo: Int64s) -> Bools:
    """Which (hi, lo) pairs are in `run` (sorted by hi; several keys may share a hi)."""
    found = np.zeros(len(hi), np.bool_)
    pos = np.searchsorted(run.hi, hi)
    pending = np.arange(len(hi))
    while pending.size:  # one pass per key sharing a hi: almost always a single pass
        at = pos[pending]
        inside = at < len(run)
        pending, at = pending[inside], at[inside]
        same_hi = run.hi[at] == hi[pending]
        pending, at = pending[same_hi], at[same_hi]
        hit = run.lo[at] == lo[pending]
        found[pending[hit]] = True
        pending = pending[~hit]
        pos[pending] += 1
    return found


def first_copies(hi: Int64s, lo: Int64s) -> Bools:
    """True where a (hi, lo) pair occurs for the first time in the arrays' order."""
    pairs = np.ascontiguousarray(np.stack([hi, lo], axis=1)).view(np.dtype((np.void, 16))).ravel()
    first = np.zeros(len(hi), np.bool_)
    first[np.unique(pairs, return_index=True)[1]] = True
    return first


class Window:
    """The keys of the last `window_us` of event time (at least: expired keys go at the
    next merge), in two runs sorted by `hi`: a large base and a small recent one that
    each batch's keys are merged into."""

    def __init__(
        self, window_us: int, keys: Keys | None = None, min_merge: int = MIN_MERGE, clock_us: int | None = None
    ) -> None:
        """`keys`: held from the start; the window begins at their newest event time, but
        no later than `clock_us` (None: no limit)."""
        self.window_us = window_us
        self.min_merge = min_merge
        self.newest: int | None = None  # the newest event time seen
        self.base = Keys.empty()
        self.recent = Keys.empty()
        if keys is not None and len(keys):
            self.newest = _capped(int(keys.at.max()), clock_us)
            self.base = keys.take(keys.at >= self.newest - window_us).by_hi()

    def __len__(self) -> int:
        return len(self.base) + len(self.recent)

    def cutoff(self) -> int | None:
        """Event times before this are outside the window."""
        return None if self.newest is None else self.newest - self.window_us

    def contains(self, hi: Int64s, lo: Int64s) -> Bools:
        return member(self.base, hi, lo) | member(self.recent, hi, lo)

    def add(self, keys: Keys, clock_us: int | None = None) -> None:
        """Hold `keys`; the window moves on to their newest event time, but no further
        than `clock_us` (None: no limit)."""
        if not len(keys):
            return
        newest = _capped(int(keys.at.max()), clock_us)
        self.newest = newest if self.newest is None else max(self.newest, newest)
        self.recent = merge(self.recent, keys.by_hi())
        if len(self.recent) >= max(self.min_merge, len(self.base) // 4):
            # Expired keys out first, then the merge: at most two copies of the base at once.
            self.base = self.base.take(self.base.at >= self.newest - self.window_us)
            self.base = merge(self.base, self.recent)
            self.recent = Keys.empty()


def _capped(at: int, clock_us: int | None) -> int:
    return at if clock_us is None else min(at, clock_us)


def clock_us() -> int:
    """Now, plus the slack an event time may be ahead of it."""
    return time.time_ns() // 1000 + CLOCK_SLACK_US


@dataclass(frozen=True)
class Verdict:
    """What dedup says of one micro-batch's rows."""

    copy: Bools  # per row of the batch: a copy of an id seen before (drop it)
    late: int  # valid rows older than the window: kept, checked against what it still holds
    kept: Keys  # the valid rows kept: remembered once the batch is in its tables


def _column(table: pa.Table, name: str) -> Int64s:
    return np.asarray(table.column(name).fill_null(0).to_numpy(), dtype=np.int64)


INDEX = "window.json"  # {"files": {batch id: newest event time in its file}}


class Dedup:
    """The window, kept in memory and saved per micro-batch under `directory`."""

    def __init__(self, directory: Directory, window_s: float) -> None:
        self.directory = directory
        self.window = Window(int(window_s * 1_000_000))
        self._files: dict[int, int] = {}  # micro-batch id -> newest event time in its file
        self.copies_dropped = 0  # since the job started
        self.late_rows = 0
        self.rebuilt_from_tables = 0  # ids the window was rebuilt with at start (0: it was not)

    def start(self, batch_id: int) -> list[str]:
        """Load the window as it was before micro-batch `batch_id`; returns what is wrong
        with the files (empty: nothing), in which case the caller rebuilds the window
        (`rebuild`). A file of that batch or a later one is a crashed run's, written
        before Spark recorded the batch as done: Spark runs that batch again, so the file
        goes. A file of an earlier batch missing from the index was written just before
        the crash, after its batch was in every table: it counts."""
        self.directory.mkdirs()
        trouble: list[str] = []
        listed = self._read_index(trouble, batch_id)
        parts = []
        damaged = set()
        names = self.directory.names()
        for name in names:
            if name.endswith(".tmp"):  # a write a crash cut short: never renamed, never counted
                self.directory.delete(name)
        for name in sorted((n for n in names if n.endswith(".npz")), key=lambda n: int(n.split(".")[0])):
            batch = int(name.split(".")[0])
            if batch >= batch_id:
                self.directory.delete(name)
                continue
            try:
                with np.load(io.BytesIO(self.directory.read(name))) as saved:
                    keys = Keys(saved["hi"], saved["lo"], saved["at"])
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                trouble.append(f"{name} is damaged ({error})")
                damaged.add(batch)
                continue
            parts.append(keys)
            self._files[batch] = int(keys.at.max()) if len(keys) else 0
        missing = sorted(b for b in listed if b < batch_id and b not in self._files and b not in damaged)
        trouble += [f"{b}.npz is listed in {INDEX} but missing" for b in missing]
        self.window = Window(self.window.window_us, Keys.concat(parts), clock_us=clock_us())
        if not trouble:
            self._forget_expired_files()
        return trouble

    def _read_index(self, trouble: list[str], batch_id: int) -> set[int]:
        try:
            return {int(b) for b in json.loads(self.directory.read(INDEX))["files"]}
        except FileNotFoundError:
            if batch_id > 0 and not any(n.endswith(".npz") for n in self.directory.names()):
                trouble.append(f"{INDEX} and every window file are missing, after {batch_id} micro-batches")
        except (ValueError, KeyError, TypeError) as error:
            trouble.append(f"{INDEX} is damaged ({error})")
        return set()

    def rebuild(self, batch_id: int, keys: Keys) -> None:
        """Replace the files with one of `keys` (the ids the tables held before micro-batch
        `batch_id`), so the next start needs no rebuild."""
        for name in self.directory.names():
            if name.endswith(".npz") or name == INDEX:
                self.directory.delete(name)
        self._files.clear()
        self.window = Window(self.window.window_us, keys, clock_us=clock_us())
        self.rebuilt_from_tables = len(keys)
        if len(keys):
            self._save(batch_id - 1, keys)
        self._write_index()

    def check(self, table: pa.Table) -> Verdict:
        valid = np.asarray(table.column("hi").is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
        rows = np.flatnonzero(valid)
        partition, offset = _column(table, "partition")[rows], _column(table, "offset")[rows]
        in_kafka_order = rows[np.lexsort((offset, partition))]
        keys = Keys(*(_column(table, name)[in_kafka_order] for name in ("hi", "lo", "at")))
        is_copy = self.window.contains(keys.hi, keys.lo) | ~first_copies(keys.hi, keys.lo)
        copy = np.zeros(table.num_rows, np.bool_)
        copy[in_kafka_order[is_copy]] = True
        cutoff = self.window.cutoff()
        late = 0 if cutoff is None else int(np.count_nonzero(keys.at < cutoff))
        return Verdict(copy, late, keys.take(~is_copy))

    def remember(self, batch_id: int, verdict: Verdict) -> None:
        """After micro-batch `batch_id` is in every table: its kept keys join the window."""
        self.copies_dropped += int(np.count_nonzero(verdict.copy))
        self.late_rows += verdict.late
        kept = verdict.kept
        if not len(kept):
            return
        self._save(batch_id, kept)
        self.window.add(kept, clock_us=clock_us())
        self._forget_expired_files()
        self._write_index()

    def _save(self, batch_id: int, keys: Keys) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, hi=keys.hi, lo=keys.lo, at=keys.at)
        self.directory.write_durably(f"{batch_id}.npz", buffer.getvalue())
        self._files[batch_id] = int(keys.at.max())

    def _write_index(self) -> None:
        text = json.dumps({"files": {str(b): at for b, at in sorted(self._files.items())}}).encode()
        self.directory.write_durably(INDEX, text)

    def _forget_expired_files(self) -> None:
        """Expired files out of the index first, then off the disk (the index never lists
        a file that is gone)."""
        cutoff = self.window.cutoff()
        if cutoff is None:
            return
        expired = [batch for batch, newest in self._files.items() if newest < cutoff]
        if not expired:
            return
        for batch in expired:
            del self._files[batch]
        self._write_index()
        for batch in expired:
            self.directory.delete(f"{batch}.npz")
