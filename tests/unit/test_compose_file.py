"""deploy/docker-compose.yaml and the docker profile agree: each service the file runs from
the gamepipe image is a service of the profile, served and health-checked under its own
name, and every address the profile names is a service of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gamepipe import hdfs
from gamepipe.config import Settings, load_settings
from gamepipe.errors import ConfigError
from gamepipe.stack import manager
from gamepipe.stack.containers import services

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "deploy" / "docker-compose.yaml").read_text())
    return loaded["services"]


def docker() -> Settings:
    return load_settings(profile="docker")


def test_every_gamepipe_container_serves_and_checks_a_service_of_the_profile() -> None:
    served = {name: spec for name, spec in compose().items() if spec["image"].startswith("gamepipe:")}
    assert sorted(served) == sorted(s.name for s in services(docker()))
    for name, spec in served.items():
        assert spec["command"] == ["gamepipe", "serve", name]
        assert spec["healthcheck"]["test"] == ["CMD", "gamepipe", "health", name]
        assert spec["restart"] == "unless-stopped"


def test_every_address_of_the_profile_is_a_compose_service() -> None:
    s = docker()
    names = set(compose())
    addresses = {
        s.catalog.host,
        hdfs.namenode(s.warehouse)[0],
        *s.cluster.datanodes,
        *(b.rsplit(":", 1)[0] for b in s.kafka.brokers),
        s.trino.host,
        s.api.host,
    }
    assert addresses <= names, addresses - names


def test_a_service_starts_after_those_it_needs_are_healthy() -> None:
    needs = {
        "datanode": {"namenode"},
        "trino": {"postgres"},
        "stream": {"postgres", "datanode", "kafka"},
        "api": {"kafka"},
    }
    for name, spec in compose().items():
        conditions = {dep: c["condition"] for dep, c in (spec.get("depends_on") or {}).items()}
        assert needs.get(name, set()) <= set(conditions), name
        assert set(conditions.values()) <= {"service_healthy"}, name


def test_up_refuses_the_docker_profile() -> None:
    with pytest.raises(ConfigError, match="docker-compose up"):
        manager.up(docker())
