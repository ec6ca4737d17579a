"""Where the stream keeps its own files: a path or a file: URI is this machine's disk, an
hdfs:// URI is HDFS, anything else is refused by name; a local write is whole or absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamepipe.errors import ConfigError
from gamepipe.storage import HdfsDirectory, LocalDirectory, directory


@pytest.mark.parametrize("where", ["/srv/stream", "file:///srv/stream", "file:/srv/stream"])
def test_a_path_or_a_file_uri_is_this_machines_disk(where: str) -> None:
    found = directory(where)
    assert isinstance(found, LocalDirectory) and found.path == Path("/srv/stream")


def test_an_hdfs_uri_is_hdfs() -> None:
    found = directory("hdfs://127.0.0.1:8020/gamepipe/stream")
    assert isinstance(found, HdfsDirectory) and found.path == "/gamepipe/stream"


def test_another_scheme_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="s3a://bucket/stream"):
        directory("s3a://bucket/stream")


def test_a_local_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    d = directory(tmp_path)
    d.write_durably("index.json", b"old")
    d.write_durably("index.json", b"new")
    assert d.read("index.json") == b"new" and d.names() == ["index.json"]
