"""PostgreSQL for the Iceberg JDBC catalog (the Debian package's binaries, our own cluster).

The cluster lives in `var/postgres/data`, listens on catalog.host:catalog.port over TCP
only (no Unix socket), and its superuser `catalog.user` has the password
`catalog.password`, or else one generated at first start into `var/postgres/password`
(mode 600, never in the repo). Running as
root, PostgreSQL refuses to start, so the server runs as the `postgres` system user.
Reads settings: catalog.*.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from gamepipe.errors import ConfigError, ServiceFailed, SetupError, StackError
from gamepipe.stack.base import Launch, Service


def postgres_bin() -> Path | None:
    """Newest installed server binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_major, reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


class Postgres(Service):
    name = "postgres"
    start_timeout_s = 30.0
    stop_signal = "INT"  # PostgreSQL's fast shutdown: SIGTERM waits for every client to leave
    startsecs = 5

    @property
    def home(self) -> Path:
        return self.settings.var / "postgres"

    @property
    def data(self) -> Path:
        return self.home / "data"

    def _bin(self) -> Path:
        found = postgres_bin()
        if found is None:
            raise SetupError(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
                "run `make setup` (installs the Debian package `postgresql`)"
            )
        return found

    def _run_as(self) -> list[str]:
        """Prefix that drops root to the postgres user; empty when not root."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise SetupError("running as root but there is no `postgres` user", "run `make setup`") from None
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def prepare(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self._init()
        self._allow_network()

    def _allow_network(self) -> None:
        """Clients on the catalog's own network (the cluster profile's nodes: Trino's) may
        connect with the password, as local ones do; loopback needs no more."""
        host = self.settings.catalog.host
        if host.startswith("127."):
            return
        try:
            network = str(ipaddress.ip_network(f"{host}/24", strict=False))
        except ValueError:  # a name (the docker profile's `postgres`): the networks it is on
            network = "samenet"
        line = f"host all all {network} scram-sha-256"
        hba = self.data / "pg_hba.conf"
        if line not in hba.read_text().splitlines():
            with hba.open("a") as f:
                f.write(f"# gamepipe: the catalog's network\n{line}\n")

    def _init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and (blocked := closed_to_others(self.home.parent)):
            raise ConfigError(
                f"the catalog database runs as the `postgres` user, who cannot enter {blocked[0]} "
                f"(mode {blocked[0].stat().st_mode & 0o777:o}) to reach {self.home}. Check out gamepipe where "
                f"others may enter (e.g. not under /root), run `chmod o+x` on {', '.join(map(str, blocked))}, "
                "or set GAMEPIPE_VAR_DIR to such a place."
            )
        self.home.chmod(0o700)
        self._chown(self.home)
        password_file = self.home / "password"
        if not password_file.exists():  # the configured password, else one of its own
            password_file.write_text((self.settings.catalog.password or secrets.token_urlsafe(24)) + "\n")
            password_file.chmod(0o600)
            self._chown(password_file)
        user = self.settings.catalog.user
        result = subprocess.run(
            [
                *self._run_as(),
                str(self._bin() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                user,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailed(f"initdb failed for {self.data}:\n{result.stdout}{result.stderr}")

    def launch(self) -> Launch:
        c = self.settings.catalog
        argv = [
            *self._run_as(),
            str(self._bin() / "postgres"),
            "-D",
            str(self.data),
            "-c",
            f"listen_addresses={c.host}",
            "-c",
            f"port={c.port}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "shared_buffers=64MB",
            "-c",
            "max_connections=50",
        ]
        return Launch(argv, dict(os.environ), self.home)

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        c = self.settings.catalog
        env = dict(os.environ, PGPASSWORD=self.settings.catalog_password())
        return subprocess.run(
            [
                "psql",
                "-h",
                c.host,
                "-p",
                str(c.port),
                "-U",
                c.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    def healthy(self) -> bool:
        return self._psql("select 1").returncode == 0

    def after_start(self) -> None:
        db = self.settings.catalog.database
        exists = self._psql(f"select 1 from pg_database where datname = '{db}'")
        if exists.stdout.strip() != "1":
            created = self._psql(f'create database "{db}"')
            if created.returncode != 0:
                raise StackError(f"could not create catalog database {db!r}: {created.stderr}")

    def describe(self) -> str:
        c = self.settings.catalog
        return f"{c.host}:{c.port} db={c.database}"


def closed_to_others(path: Path) -> list[Path]:
    """`path` and its ancestors that a user other than their owner cannot enter."""
    return [p for p in (path, *path.parents) if not p.stat().st_mode & 0o001]
