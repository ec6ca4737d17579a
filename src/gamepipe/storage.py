"""A directory the stream keeps its own files in (the dedup window, the checkpoint's query
id): on this machine's disk, or on HDFS so a driver started elsewhere finds them.

In: a path or an hdfs:// URI (`stream.checkpoint_dir`). Out: a `Directory` of named
files: read, list, delete, and `write_durably` (whole or absent when it returns: on this
machine's disk, fsync and rename; on HDFS, closed, so every DataNode of its pipeline
holds it, then renamed).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from gamepipe import hdfs
from gamepipe.errors import ConfigError, StorageError

log = logging.getLogger(__name__)

# A DataNode that dies under a write fails the write (hdfs-native does not swap it out of
# the pipeline as Java's client does); the whole file is written again until the NameNode
# declares the node dead and stops offering it (15 s with the stack's settings).
HDFS_WRITE_FOR_S = 90.0


class Directory(Protocol):
    def mkdirs(self) -> None: ...

    def names(self) -> list[str]:
        """The names of the files in it (not its subdirectories)."""
        ...

    def read(self, name: str) -> bytes:
        """The file's bytes; FileNotFoundError if there is none."""
        ...

    def write_durably(self, name: str, data: bytes) -> None: ...

    def delete(self, name: str) -> None:
        """Remove the file if it is there."""
        ...

    def child(self, name: str) -> Directory: ...


class LocalDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return str(self.path)

    def mkdirs(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.is_file()) if self.path.is_dir() else []

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def write_durably(self, name: str, data: bytes) -> None:
        target = self.path / name
        tmp = target.with_name(target.name + ".tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename too
        finally:
            os.close(fd)

    def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    def child(self, name: str) -> LocalDirectory:
        return LocalDirectory(self.path / name)


class HdfsDirectory:
    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.path = urlparse(self.uri).path or "/"
        self.client = hdfs.client(*hdfs.namenode(uri))

    def __repr__(self) -> str:
        return self.uri

    def mkdirs(self) -> None:
        self.client.mkdirs(self.path, create_parent=True)

    def names(self) -> list[str]:
        try:
            return sorted(s.path.rsplit("/", 1)[-1] for s in self.client.list_status(self.path) if not s.isdir)
        except FileNotFoundError:
            return []

    def read(self, name: str) -> bytes:
        data: bytes = self.client.read(f"{self.path}/{name}").readall()
        return data

    def write_durably(self, name: str, data: bytes) -> None:
        """Closed and renamed: every DataNode of the pipeline acknowledged it. Not hsync'd:
        hdfs-native 0.14.7's hsync waits for ever when a DataNode of the pipeline dies
        (docs/decisions.md); a window file lost with all its DataNodes is rebuilt from the
        tables (stream/dedup.py)."""
        from hdfs_native import WriteOptions

        tmp = f"{self.path}/{name}.tmp"
        deadline = time.monotonic() + HDFS_WRITE_FOR_S
        while True:
            try:
                writer = self.client.create(tmp, WriteOptions(overwrite=True, create_parent=True))
                writer.write(data)
                writer.close()  # not after a failed write: the writer is dropped, the file written anew
                self.client.rename(tmp, f"{self.path}/{name}", overwrite=True)
                return
            except (OSError, RuntimeError) as error:  # hdfs-native's I/O and data transfer errors
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"could not write {self.uri}/{name} for {HDFS_WRITE_FOR_S:.0f} s: {error}"
                    ) from error
                log.warning("writing %s/%s failed (%s); writing it again", self.uri, name, error)
                time.sleep(1)

    def delete(self, name: str) -> None:
        self.client.delete(f"{self.path}/{name}")

    def child(self, name: str) -> HdfsDirectory:
        return HdfsDirectory(f"{self.uri}/{name}")


def directory(where: str | Path) -> Directory:
    """The directory at a path or an hdfs:// URI."""
    text = str(where)
    url = urlparse(text)
    if url.scheme == hdfs.SCHEME:
        return HdfsDirectory(text)
    if url.scheme == "file":  # file:///x and Hadoop's file:/x
        return LocalDirectory(Path(url.path))
    if url.scheme:
        raise ConfigError(f"{text!r}: the stream keeps its files on local disk or HDFS only", "use a path or hdfs://")
    return LocalDirectory(Path(text))
