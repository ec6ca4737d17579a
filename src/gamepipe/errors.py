"""Every error gamepipe raises, in one tree.

    GamepipeError
    ├── TerminalError       the same call fails again until something changes: the message says what
    │   ├── ConfigError     settings that cannot work (no catalog password, an unknown catalog type)
    │   ├── SetupError      something this machine lacks (a package, a jar, a Java runtime)
    │   ├── ContractError   the event contract in schemas/ is inconsistent
    │   ├── LoadError       `ab` missing or unusable
    │   ├── VerifyError     a run that cannot be verified at all (no manifest)
    │   ├── ReplayError     a replay that cannot be done as asked
    │   ├── ServiceFailed   a service cannot start as configured (it exits, its storage will not format)
    │   └── QueryRefused    the engine refused the SQL (syntax, unknown table)   ─┐
    └── TransientError      may pass when tried again later                       ├ QueryError
        ├── StackError      a service did not start, stop or answer in time       │
        ├── EngineUnavailable  Trino or the catalog could not be reached         ─┘
        ├── LandingTimeout  accepted events not in their tables yet
        ├── StreamFailed    the streaming query ended with an error
        ├── CareFailed      a round of table care failed (tried again at the next)
        └── RollupConflict  the stream appended to a day table care was merging (merged at the next round)

Each stage raises its own class; the CLI catches `GamepipeError` once, prints the
message and, where given, `hint` (what to do next), and exits 1 for terminal errors and
75 (EX_TEMPFAIL) for transient ones. Library code never raises SystemExit.
"""

from __future__ import annotations


class GamepipeError(Exception):
    """The root of every error gamepipe raises. `hint` says what to do next."""

    transient = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}; {self.hint}"


class TerminalError(GamepipeError):
    """Retrying the same thing fails the same way: change something first."""


class TransientError(GamepipeError):
    """May pass when tried again later (a service starting, down, or behind)."""

    transient = True


class ConfigError(TerminalError):
    """Settings that cannot work as given."""


class SetupError(TerminalError):
    """Something this machine lacks: a Debian package, a JVM artifact, a Java runtime."""


class ContractError(TerminalError):
    """The schema files themselves are inconsistent (a bug in `schemas/`)."""


class LoadError(TerminalError):
    """`ab` is missing or could not run."""


class VerifyError(TerminalError):
    """The run cannot be verified at all (no manifest); not a mismatch."""


class ReplayError(TerminalError):
    """A replay asked for something that cannot be done."""


class ServiceFailed(TerminalError):
    """A service cannot start as it is configured: it exits while starting, its storage
    cannot be formatted; its log says why."""


class StackError(TransientError):
    """A service did not become healthy, or could not be stopped, in time; the message says
    which and where to look."""


class QueryError(GamepipeError):
    """A query gave no rows: refused by the engine, or the engine was not there."""


class QueryRefused(QueryError, TerminalError):
    """The engine refused or failed the query; the message is the engine's own."""


class EngineUnavailable(QueryError, TransientError):
    """Trino (or the catalog behind DuckDB) could not be reached."""


class LandingTimeout(TransientError):
    """Not every accepted event reached its table in time (the stream is behind or down)."""


class StorageError(TransientError):
    """A file the stream keeps (its dedup window) could not be written: the job stops, and
    is started again from its last commit."""


class StreamFailed(TransientError):
    """The streaming query ended with an error; supervisord starts the job again."""


class CareFailed(TransientError):
    """A round of table care failed; the stream tries again at the next round."""


class FoldConflict(TransientError):
    """Another fold committed to the lifetime table while this one folded; its commit was
    refused (nothing written) and the next round folds what is left."""


class RollupConflict(TransientError):
    """Rows were appended to a received day of the rollup while table care merged it; its
    commit was refused (nothing written) and the next round merges the day again."""
