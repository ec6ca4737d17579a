"""Kafka's cluster id: the storage tool takes it as an argument, so it must not look like an option."""

from __future__ import annotations

import base64

from gamepipe.stack.kafka import new_cluster_id


def test_cluster_ids_never_start_with_a_dash_and_hold_16_bytes() -> None:
    # One plain id in 64 starts with '-'; in 4,000 draws the old code had such ids for certain.
    ids = [new_cluster_id() for _ in range(4000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
