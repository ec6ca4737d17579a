"""`gamepipe setup`: what the stack needs on this machine, installed once.

- Debian packages: the PostgreSQL server (catalog), apache2-utils (`ab`), psql.
  Installed with apt-get when running as root; otherwise the missing ones are named.
- Java: 17 for Kafka and Spark (the default `java`), Temurin 25 for Trino.
- JVM artifacts: `mvn -f jvm/pom.xml package` copies them under var/jvm/ (Maven's own
  cache makes a second run fetch nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from gamepipe.config import Settings
from gamepipe.stack.base import StackError
from gamepipe.stack.postgres import postgres_bin

# Debian package -> how we know it is there.
PACKAGES: dict[str, Callable[[], bool]] = {
    "postgresql": lambda: postgres_bin() is not None,
    "postgresql-client": lambda: shutil.which("psql") is not None,
    "apache2-utils": lambda: shutil.which("ab") is not None,
}


def missing_packages() -> list[str]:
    return [name for name, present in PACKAGES.items() if not present()]


def install_packages(say: Callable[[str], None]) -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(
            f"missing Debian packages: {' '.join(missing)}. Install them with "
            f"`sudo apt-get install -y {' '.join(missing)}` and run again."
        )
    say(f"installing Debian packages: {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        result = subprocess.run(argv, env=env, check=False)
        if result.returncode != 0:
            raise StackError(f"`{' '.join(argv)}` failed (exit {result.returncode}); see its output above")
    still = missing_packages()
    if still:
        raise StackError(f"apt-get ran but these are still missing: {' '.join(still)}")


def check_java(settings: Settings) -> None:
    if shutil.which("java") is None:
        raise StackError("no `java` on PATH: Kafka and Spark need Java 17 (Debian: openjdk-17-jre-headless)")
    java25 = Path(settings.trino.java_home) / "bin" / "java"
    if not java25.exists():
        raise StackError(
            f"Trino 476 needs Java 24+; none at {settings.trino.java_home}. "
            "Install a JDK 25 there or set GAMEPIPE_TRINO__JAVA_HOME."
        )


def fetch_jvm(settings: Settings, say: Callable[[str], None]) -> None:
    if shutil.which("mvn") is None:
        raise StackError("`mvn` not found: Maven fetches the JVM artifacts (Debian: maven)")
    say("fetching JVM artifacts with Maven (jvm/pom.xml -> var/jvm/)")
    argv = [
        "mvn",
        "-B",
        "-f",
        str(settings.root / "jvm" / "pom.xml"),
        f"-Dgamepipe.var={settings.var}",
        "package",
    ]
    # Maven's own output is the progress: which module, what it downloads.
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise StackError(
            "Maven could not fetch the JVM artifacts (see its errors above). If an artifact "
            "is missing from Maven Central, step its version down in jvm/pom.xml."
        )


# Trino plugins we keep: startup time grows with every plugin present.
TRINO_PLUGINS = ("iceberg",)


def unpack_trino(settings: Settings, say: Callable[[str], None]) -> Path:
    """Unpack the server tarball once (system tar: it restores the hard links the
    plugins share), then drop the plugins we do not use."""
    home = settings.var / "jvm" / "trino"
    tarball = home / "trino-server.tar.gz"
    marker = home / "unpacked.ok"
    if marker.exists() and marker.stat().st_mtime >= tarball.stat().st_mtime:
        return home
    say(f"unpacking {tarball.name} ({tarball.stat().st_size >> 20} MiB)")
    for old in home.glob("trino-server-*/"):
        shutil.rmtree(old)
    result = subprocess.run(["tar", "-xzf", str(tarball), "-C", str(home)], check=False)
    if result.returncode != 0:
        raise StackError(f"could not unpack {tarball}; delete it and run `make setup` again")
    for server in home.glob("trino-server-*/"):
        for plugin in (server / "plugin").iterdir():
            if plugin.name not in TRINO_PLUGINS:
                shutil.rmtree(plugin)
    marker.touch()
    return home


def setup(settings: Settings, say: Callable[[str], None] = print) -> None:
    install_packages(say)
    check_java(settings)
    fetch_jvm(settings, say)
    unpack_trino(settings, say)
