"""Run SQL on Trino, in the seed's Presto session (`--catalog hive --schema default`).

In: SQL text, or the name of a file in `queries/`. Out: a `Result` (column names and
rows). Reads settings: trino.*.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamepipe.config import Settings

# The seed's four Presto queries, in the order the seed ran them.
SEED_QUERIES: tuple[str, ...] = (
    "show tables",
    "describe sword_purchases",
    "select count(*) from join_guilds",
    "select host, count(*) as count from join_guilds group by host",
)


class QueryError(RuntimeError):
    """Trino refused or failed the query; the message is Trino's own."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def scalar(self) -> Any:
        return self.rows[0][0]


def run(settings: Settings, sql: str) -> Result:
    import trino  # lazily: `gamepipe --help` stays instant

    t = settings.trino
    conn = trino.dbapi.connect(  # type: ignore[no-untyped-call]
        host=t.host,
        port=t.port,
        user="gamepipe",
        catalog=t.catalog,
        schema=t.schema_,
        request_timeout=60,
    )
    try:
        cur = conn.cursor()
        try:
            cur.execute(sql.strip().rstrip(";"))
            rows = [tuple(r) for r in cur.fetchall()]
        except trino.exceptions.TrinoQueryError as exc:
            raise QueryError(f"{exc.error_name}: {exc.message}") from None
        except trino.exceptions.HttpError as exc:
            raise QueryError(f"Trino at {t.host}:{t.port} failed: {exc}") from None
        columns = [d[0] for d in (cur.description or [])]
    except OSError as exc:
        raise QueryError(f"cannot reach Trino at {t.host}:{t.port} ({exc}); is the stack up? `gamepipe up`") from None
    finally:
        conn.close()
    return Result(columns, rows)


def named(settings: Settings, name: str) -> str:
    """The text of `queries/<name>.sql`."""
    path = settings.queries_dir / f"{name}.sql"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in settings.queries_dir.glob("*.sql")))
        raise QueryError(f"no query named {name!r} in {settings.queries_dir}; known: {known}")
    return Path(path).read_text()


def count(settings: Settings, table: str) -> int:
    return int(run(settings, f"select count(*) from {table}").scalar())
