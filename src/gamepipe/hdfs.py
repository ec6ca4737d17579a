"""HDFS from Python with no JVM and no libhdfs: PyIceberg's FileIO and DuckDB's reads of an
hdfs:// warehouse, over the `hdfs-native` wheel (a Rust HDFS client).

In: hdfs:// URIs (`hdfs://<namenode>:<port>/<path>`). Out: a `Client` per NameNode;
hdfs-native's fsspec `filesystem`, which PyIceberg reads through (`hdfs_io.HdfsFileIO`);
`register(con, uri)`, the same filesystem registered with a DuckDB connection, so
`read_parquet('hdfs://...')` reads only the columns and row groups a query needs. A write
whose DataNode dies fails rather than going on without it (storage.py writes again).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from gamepipe.errors import ConfigError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem
    from hdfs_native import Client

SCHEME = "hdfs"
DEFAULT_PORT = 8020


def is_hdfs(uri: str) -> bool:
    return urlparse(uri).scheme == SCHEME


def namenode(uri: str) -> tuple[str, int]:
    """The NameNode's host and RPC port of an hdfs:// URI."""
    parsed = urlparse(uri)
    if parsed.scheme != SCHEME or not parsed.hostname:
        raise ConfigError(
            f"{uri!r} is not an hdfs://<namenode>[:port]/<path> URI",
            "set catalog.warehouse (and stream.checkpoint_dir) to hdfs:// URIs, e.g. the `hdfs` profile's",
        )
    return parsed.hostname, parsed.port or DEFAULT_PORT


@cache
def client(host: str, port: int) -> Client:
    from hdfs_native import Client

    return Client(f"{SCHEME}://{host}:{port}")


def filesystem(uri: str) -> AbstractFileSystem:
    """hdfs-native's fsspec filesystem for the NameNode of `uri`."""
    from hdfs_native.fsspec import HdfsFileSystem

    host, port = namenode(uri)
    fs: AbstractFileSystem = HdfsFileSystem(host=host, port=port)
    return fs


def register(con: Any, uri: str) -> None:
    """Let the DuckDB connection `con` read hdfs:// paths of the NameNode of `uri`."""
    con.register_filesystem(filesystem(uri))
