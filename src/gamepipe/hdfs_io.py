"""PyIceberg's FileIO for an hdfs:// warehouse, with no JVM: its fsspec FileIO, `hdfs://`
served by hdfs-native (gamepipe/hdfs.py). Named in a catalog's `py-io-impl`
(`gamepipe.hdfs_io.HdfsFileIO`); the NameNode is the catalog's `warehouse`'s."""

from __future__ import annotations

from pyiceberg.io.fsspec import FsspecFileIO

from gamepipe import hdfs


class HdfsFileIO(FsspecFileIO):
    """Every scheme as PyIceberg has it, and `hdfs` through hdfs-native."""

    def __init__(self, properties: dict[str, str]) -> None:
        super().__init__(properties)
        self._scheme_to_fs[hdfs.SCHEME] = lambda props: hdfs.filesystem(props["warehouse"])
