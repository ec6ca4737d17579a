"""Versions pinned in two places must agree."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pom_property(name: str) -> str:
    match = re.search(rf"<{re.escape(name)}>([^<]+)</", (ROOT / "jvm" / "pom.xml").read_text())
    assert match, f"jvm/pom.xml has no <{name}>"
    return match.group(1)


def test_pyspark_matches_the_spark_jars() -> None:
    assert version("pyspark") == pom_property("spark.version")
    pinned = re.search(r'"pyspark==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and pinned.group(1) == pom_property("spark.version")


def test_iceberg_runtime_matches_the_spark_line() -> None:
    assert pom_property("spark.version").startswith(pom_property("iceberg.spark.line") + ".")
