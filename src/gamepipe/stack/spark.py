"""Spark standalone for the cluster profile: a master and workers, from PySpark's own
distribution (`pyspark/bin/spark-class`; the wheel has no start scripts), each a host of
its own. The stream's driver stays ours, on this machine, in client mode (`stream.master`
= spark://<master>:7077, `stream.driver_host`): the stack supervises it like the single
profile's job, and its executors run on the workers. A worker that stops heartbeating is
declared lost after Spark's 60 s, its executors' tasks run again elsewhere (10 s lost
healthy workers here: two cores shared by some twenty JVMs miss a heartbeat now and then).
Reads settings: stream.master, cluster.*.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gamepipe.config import Settings
from gamepipe.errors import ConfigError, SetupError
from gamepipe.stack.base import Launch, Service, get_json, java_env
from gamepipe.stack.hosts import Host

WEB_PORT = 8080  # the master's UI and /json/ (each node has its own address)
WORKER_WEB_PORT = 8081
# The master and workers only keep books (executors are JVMs of their own): C1 and the
# serial collector, as for HDFS's daemons.
SMALL_DAEMON = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"


def spark_class() -> Path:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SetupError("pyspark is not installed", "run `make setup`")
    return Path(spec.origin).parent / "bin" / "spark-class"


def master_address(settings: Settings) -> tuple[str, int]:
    url = urlparse(settings.stream.master)
    if url.scheme != "spark" or not url.hostname:
        raise ConfigError(f"stream.master {settings.stream.master!r} is not spark://<host>:<port>")
    return url.hostname, url.port or 7077


class SparkMaster(Service):
    name = "spark-master"
    start_timeout_s = 90.0

    def __init__(self, settings: Settings, host: Host) -> None:
        super().__init__(settings)
        self.host = host
        self.address, self.port = master_address(settings)

    @property
    def home(self) -> Path:
        return self.settings.var / self.name

    def env(self) -> dict[str, str]:
        return {
            **java_env(),
            "SPARK_LOCAL_IP": self.host.address,
            "SPARK_DAEMON_MEMORY": self.settings.cluster.spark_daemon_memory,
            "SPARK_DAEMON_JAVA_OPTS": SMALL_DAEMON,
            "SPARK_LOG_DIR": str(self.home),
        }

    def launch(self) -> Launch:
        self.home.mkdir(parents=True, exist_ok=True)
        main = "org.apache.spark.deploy.master.Master"
        argv = [
            str(spark_class()),
            main,
            "--host",
            self.address,
            "--port",
            str(self.port),
            "--webui-port",
            str(WEB_PORT),
        ]
        return Launch(argv, self.env(), self.home)

    def healthy(self) -> bool:
        state = master_state(self.settings)
        return state is not None and state.get("status") == "ALIVE"

    def describe(self) -> str:
        return f"spark://{self.address}:{self.port} web http://{self.address}:{WEB_PORT}"


def master_state(settings: Settings) -> dict[str, Any] | None:
    """The master's own account (its /json/: status, workers, applications)."""
    address, _ = master_address(settings)
    state: dict[str, Any] | None = get_json(f"http://{address}:{WEB_PORT}/json/")
    return state


class SparkWorker(Service):
    start_timeout_s = 90.0

    def __init__(self, settings: Settings, number: int, host: Host) -> None:
        super().__init__(settings)
        self.name = f"spark-worker-{number}"
        self.host = host

    @property
    def home(self) -> Path:
        return self.settings.var / self.name

    def launch(self) -> Launch:
        (self.home / "work").mkdir(parents=True, exist_ok=True)
        c = self.settings.cluster
        argv = [str(spark_class()), "org.apache.spark.deploy.worker.Worker", self.settings.stream.master,
                "--host", self.host.address, "--cores", str(self.settings.stream.executor_cores),
                "--memory", c.spark_worker_memory, "--work-dir", str(self.home / "work"),
                "--webui-port", str(WORKER_WEB_PORT)]  # fmt: skip
        env = {
            **java_env(),
            "SPARK_LOCAL_IP": self.host.address,
            "SPARK_DAEMON_MEMORY": c.spark_daemon_memory,
            "SPARK_DAEMON_JAVA_OPTS": SMALL_DAEMON,
            "SPARK_LOG_DIR": str(self.home),
            # An executor that needs Python workers uses the driver's interpreter (shared disk).
            "PYSPARK_PYTHON": sys.executable,
        }
        return Launch(argv, env, self.home)

    def healthy(self) -> bool:
        """Registered: the master counts it among its alive workers."""
        state = master_state(self.settings)
        workers = state.get("workers", []) if state else []
        return any(w.get("host") == self.host.address and w.get("state") == "ALIVE" for w in workers)

    def describe(self) -> str:
        return f"{self.host.address} {self.settings.stream.executor_cores} core(s) for {self.settings.stream.master}"
