"""The cluster profile's nodes: which service runs on which host, from settings alone.

In: settings (`local.profile = "cluster"`). Out: `network(settings)`, the hosts the stack
makes (stack/hosts.py), and `services(settings)`, every node as a service of the stack's
supervisord, each in its host's network namespace:

| node | host | from |
|---|---|---|
| namenode | gp-nn | the warehouse URI's address |
| datanode-1..n | gp-dn1.. | `cluster.datanodes` |
| kafka-1..n | gp-k1.. | `kafka.bootstrap` |
| spark-master | gp-sm | `stream.master` |
| spark-worker-1..n | gp-sw1.. | `cluster.spark_workers` |
| trino (coordinator) | gp-tc | `trino.host` |
| trino-worker-1..n | gp-tw1.. | `cluster.trino_workers` |

PostgreSQL, the stream's driver and the API run on this machine, at `cluster.gateway`
on the bridge (`catalog.host`, `stream.driver_host`, `api.host`).
"""

from __future__ import annotations

from gamepipe import hdfs
from gamepipe.config import Settings
from gamepipe.stack.apps import Api, Stream
from gamepipe.stack.base import Service
from gamepipe.stack.hdfs import DataNode, NameNode
from gamepipe.stack.hosts import PREFIX, Host, Network
from gamepipe.stack.kafka import Kafka
from gamepipe.stack.postgres import Postgres
from gamepipe.stack.spark import SparkMaster, SparkWorker, master_address
from gamepipe.stack.trino import Trino, TrinoWorker


def hosts(settings: Settings) -> dict[str, Host]:
    """node name -> its host."""
    c = settings.cluster
    out = {"namenode": Host(hdfs.namenode(settings.warehouse)[0], f"{PREFIX}nn")}
    out |= {f"datanode-{i}": Host(a, f"{PREFIX}dn{i}") for i, a in enumerate(c.datanodes, start=1)}
    brokers = [b.rsplit(":", 1)[0] for b in settings.kafka.brokers]
    out |= {f"kafka-{i}": Host(a, f"{PREFIX}k{i}") for i, a in enumerate(brokers, start=1)}
    out["spark-master"] = Host(master_address(settings)[0], f"{PREFIX}sm")
    out |= {f"spark-worker-{i}": Host(a, f"{PREFIX}sw{i}") for i, a in enumerate(c.spark_workers, start=1)}
    out["trino"] = Host(settings.trino.host, f"{PREFIX}tc")
    out |= {f"trino-worker-{i}": Host(a, f"{PREFIX}tw{i}") for i, a in enumerate(c.trino_workers, start=1)}
    return out


def network(settings: Settings) -> Network:
    return Network(settings.cluster.bridge, settings.cluster.gateway, list(hosts(settings).values()))


def services(settings: Settings) -> list[Service]:
    """Every node, in the order `up` starts them (stack/manager.py)."""
    on = hosts(settings)
    c = settings.cluster
    brokers = len(settings.kafka.brokers)
    return [
        Postgres(settings),
        NameNode(settings, on["namenode"]),
        *(DataNode(settings, i, on[f"datanode-{i}"], False) for i in range(1, len(c.datanodes) + 1)),
        *(Kafka(settings, i, on[f"kafka-{i}"]) for i in range(1, brokers + 1)),
        SparkMaster(settings, on["spark-master"]),
        *(SparkWorker(settings, i, on[f"spark-worker-{i}"]) for i in range(1, len(c.spark_workers) + 1)),
        Trino(settings, on["trino"], workers=len(c.trino_workers)),
        *(TrinoWorker(settings, i, on[f"trino-worker-{i}"]) for i in range(1, len(c.trino_workers) + 1)),
        Stream(settings),
        Api(settings),
    ]
