"""Run SQL on Trino (the seed's Presto session, `--catalog hive --schema default`) or on
DuckDB embedded (PyIceberg scans the same Iceberg tables into Arrow, DuckDB queries it).

In: SQL text, or the name of a file in `queries/` with its `{run_filter}` filled. Out: a
`Result` (column names and rows). Reads settings: trino.*, catalog.*, stream.*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.errors import EngineUnavailable, QueryRefused
from gamepipe.rollup import ITEM_DAYS, OF_RUN_BY_SESSION, RUN_FORM, RUN_OF_SESSION

if TYPE_CHECKING:
    import duckdb

# The seed's four Presto queries, in the order the seed ran them.
SEED_QUERIES: tuple[str, ...] = (
    "show tables",
    "describe sword_purchases",
    "select count(*) from join_guilds",
    "select host, count(*) as count from join_guilds group by host",
)


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
        except trino.exceptions.TrinoUserError as exc:
            raise QueryRefused(f"{exc.error_name}: {exc.message}") from None
        except trino.exceptions.TrinoQueryError as exc:  # internal or external: not the query's fault
            raise EngineUnavailable(f"{exc.error_name}: {exc.message}") from None
        except trino.exceptions.HttpError as exc:
            raise EngineUnavailable(f"Trino at {t.host}:{t.port} failed: {exc}") from None
        columns = [d[0] for d in (cur.description or [])]
    except (OSError, trino.exceptions.TrinoConnectionError) as exc:
        why = f"cannot reach Trino at {t.host}:{t.port} ({exc})"
        raise EngineUnavailable(why, "is the stack up? `gamepipe up`") from None
    finally:
        conn.close()
    return Result(columns, rows)


def named(
    settings: Settings,
    name: str,
    run: str | None = None,
    days: Mapping[str, date] | None = None,
    engine: str | None = None,
) -> str:
    """The text of `queries/<name>.sql` (with the engine's own text of its marked part, where
    `queries/<name>.<engine>.sql` holds one: docs/decisions.md says which and why; each
    `{<part>}` replaced by the CTE in `queries/<part>.cte.sql`), its
    `{run_filter}` limited to a load run's rows by their session ids (`{run_match}`: by a
    rollup's `run` column, as item_days keeps it) and each `{name}` of `days` filled with
    that date (e.g. sword_rates.sql's `{change_day}`)."""
    path = settings.queries_dir / f"{name}.sql"
    if not path.exists() or "." in name:
        known = ", ".join(sorted(p.stem for p in settings.queries_dir.glob("*.sql") if "." not in p.stem))
        raise QueryRefused(f"no query named {name!r} in {settings.queries_dir}; known: {known}")
    if run is not None and not RUN_ID.match(run):
        raise QueryRefused(f"run id {run!r} is not of the form gamepipe load writes (e.g. 20261128-090422-s42)")
    text = path.read_text()
    own = settings.queries_dir / f"{name}.{engine}.sql"
    if engine and own.exists():
        text = with_part(text, own.read_text(), where=path.name)
    for shared in settings.queries_dir.glob(f"*{CTE}"):  # a CTE several queries read, in a file of its own
        text = text.replace(f"{{{shared.name.removesuffix(CTE)}}}", shared.read_text().strip())
    run_filter = OF_RUN_BY_SESSION if run else "1 = 1"
    run_match = ITEM_DAYS.of_run if run else "1 = 1"
    text = text.replace("{run_filter}", run_filter.format(run=run)).replace("{run_match}", run_match.format(run=run))
    text = text.replace("{run_of_session}", RUN_OF_SESSION)
    for key, day in (days or {}).items():
        text = text.replace(f"{{{key}}}", date.isoformat(day))  # a date, so nothing but digits and dashes
    missing = sorted(set(PLACEHOLDER.findall(text)))
    if missing:
        raise QueryRefused(f"query {name!r} needs {', '.join(missing)}: a date each (e.g. --day change_day=2026-11-20)")
    return text


# queries/<name>.cte.sql: a CTE that `{<name>}` in a query stands for (players_by_day).
CTE = ".cte.sql"
# An engine's own text (queries/<name>.<engine>.sql) stands for the lines between these.
PART_BEGINS, PART_ENDS = "-- engine's own part begins", "-- engine's own part ends"


def with_part(shared: str, part: str, where: str) -> str:
    """`shared` with the lines between its marks replaced by `part`."""
    lines = shared.splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.strip() in (PART_BEGINS, PART_ENDS)]
    if [lines[i].strip() for i in marks] != [PART_BEGINS, PART_ENDS]:
        raise QueryRefused(f"{where} has an engine's own text but not one part marked "
                           f"'{PART_BEGINS}' ... '{PART_ENDS}' for it to stand for")  # fmt: skip
    return "".join(lines[: marks[0]]) + part.rstrip("\n") + "\n" + "".join(lines[marks[1] + 1 :])


RUN_ID = re.compile(f"^{RUN_FORM}$")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")  # `{name}` in a query's text, to be filled


class DuckDB:
    """DuckDB over the Iceberg tables' current snapshots (PyIceberg lists the data files
    through the shared JDBC catalog; on HDFS both read through hdfs-native): no JVM. Each
    table becomes a view over its Parquet files on first use, so a query reads only the
    columns it needs."""

    def __init__(self, settings: Settings) -> None:
        import duckdb
        from pyiceberg.catalog.sql import SqlCatalog

        c = settings.catalog
        on_hdfs = hdfs.is_hdfs(settings.warehouse)
        self._catalog = SqlCatalog(
            c.name,
            uri=f"postgresql+psycopg2://{c.user}:{settings.catalog_password()}@{c.host}:{c.port}/{c.database}",
            warehouse=settings.warehouse,
            **({"py-io-impl": "gamepipe.hdfs_io.HdfsFileIO"} if on_hdfs else {}),
        )
        self._namespace = c.namespace
        self._con = duck_session(duckdb.connect())
        if on_hdfs:
            hdfs.register(self._con, settings.warehouse)
        self._loaded: set[str] = set()
        self._tables = set(settings.stream.tables)

    def _load(self, sql: str) -> None:
        """Make a view of each table the SQL reads (named after `from` or `join`), not yet made:
        a column or alias named like a table (headline's `events`) plans no files."""
        for name in self._tables - self._loaded:
            if re.search(rf'\b(from|join)\s+([\w"]+\.)*"?{re.escape(name)}\b', sql, re.IGNORECASE):
                self._view(name)
                self._loaded.add(name)

    def _view(self, name: str) -> None:
        table = self._catalog.load_table(f"{self._namespace}.{name}")
        tasks = list(table.scan().plan_files())
        readable = all(t.file.file_path.startswith(("file:", "hdfs:")) for t in tasks)
        if not tasks or not readable or any(t.delete_files for t in tasks):
            # Empty, on storage DuckDB is not given, or with delete files: PyIceberg reads it (into memory).
            scanned = f"{name}__scanned"
            self._con.register(scanned, table.scan().to_arrow())
            source = f'"{scanned}"'
        else:
            files = ", ".join(_sql_string(t.file.file_path.removeprefix("file:")) for t in tasks)
            source = f"read_parquet([{files}], union_by_name = true)"
        present = {row[0] for row in self._con.execute(f"describe select * from {source}").fetchall()}
        columns = ", ".join(_duck_column(f.name, str(f.field_type), f.name in present) for f in table.schema().fields)
        self._con.execute(f'create or replace view "{name}" as select {columns} from {source}')

    def refresh(self) -> None:
        """Forget the snapshots read so far: the next query reads each table's current one."""
        self._loaded.clear()

    def run(self, sql: str) -> Result:
        import duckdb

        try:
            self._load(sql)
        except Exception as exc:
            raise EngineUnavailable(f"DuckDB could not load the tables through the catalog: {exc!r}") from exc
        try:
            cur = self._con.execute(sql.strip().rstrip(";"))
        except duckdb.Error as exc:
            raise QueryRefused(f"DuckDB: {exc}") from None
        return Result([d[0] for d in cur.description or []], [tuple(r) for r in cur.fetchall()])


def duck_session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection made to read queries/ as written: in UTC, and with Trino's
    sequence(start, stop) (DuckDB's range(start, stop + 1)), with which the queries
    index a row's lists where the engines share a text."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("create macro sequence(start, stop) as range(cast(start as bigint), cast(stop as bigint) + 1)")
    return con


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duck_column(name: str, iceberg_type: str, present: bool) -> str:
    """A table column as the view shows it. A column added to the table after its files were
    written reads as null. A timestamptz (an instant, which the stream writes in UTC) shows as
    a plain timestamp of its UTC time: DuckDB casts and subtracts those as integers, where a
    timestamptz goes through ICU's calendar per row (5 to 10 times slower; docs/decisions.md).
    The session's time zone is UTC, so a comparison with a timestamptz means the same."""
    if not present:
        return f'cast(null as {_duck_type(iceberg_type)}) as "{name}"'
    if iceberg_type == "timestamptz":
        return f'make_timestamp(epoch_us("{name}")) as "{name}"'
    return f'"{name}"'


def _duck_type(iceberg_type: str) -> str:
    """An Iceberg primitive type's DuckDB name, as the view shows it (for a column no file has yet)."""
    if iceberg_type.startswith("list<"):
        return _duck_type(iceberg_type[len("list<") : -1]) + "[]"
    simple = {"string": "varchar", "long": "bigint", "int": "integer", "boolean": "boolean", "double": "double",
              "binary": "blob", "timestamp": "timestamp", "timestamptz": "timestamp", "date": "date"}  # fmt: skip
    return simple.get(iceberg_type, iceberg_type)


EngineName = Literal["trino", "duckdb"]
ENGINES: tuple[EngineName, ...] = ("trino", "duckdb")


class Engine:
    """One way to run the report's SQL: `trino` (default) or `duckdb`."""

    def __init__(self, settings: Settings, name: str = "trino") -> None:
        if name not in ENGINES:
            raise QueryRefused(f"unknown engine {name!r}; use trino or duckdb")
        self.settings = settings
        self.name = name
        self._duck = DuckDB(settings) if name == "duckdb" else None

    def run(self, sql: str) -> Result:
        return self._duck.run(sql) if self._duck else run(self.settings, sql)

    def refresh(self) -> None:
        """DuckDB: read the tables' current snapshots from the next query on (Trino always does)."""
        if self._duck:
            self._duck.refresh()

    def named(self, name: str, run_id: str | None = None, days: Mapping[str, date] | None = None) -> Result:
        return self.run(named(self.settings, name, run_id, days, self.name))


def comparable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as both engines should agree on them: numbers to 2 decimals, times to the
    minute, in a fixed order."""

    def normal(value: Any) -> Any:
        if isinstance(value, float | Decimal):
            return round(float(value), 2)
        if isinstance(value, datetime):
            return value.isoformat()[:16]
        return value

    return sorted((tuple(map(normal, r)) for r in rows), key=repr)


def count(settings: Settings, table: str, where: str | None = None) -> int:
    """Rows in `table` (those `where` selects, an SQL condition, if given)."""
    condition = f" where {where}" if where else ""
    return int(run(settings, f"select count(*) from {table}{condition}").scalar())
