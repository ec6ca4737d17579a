"""The reference for the ingest target's ratios: an app that behaves as the seed's `game_api.py`.

Flask's development server, kafka-python's `producer.send` without waiting for the
broker, every request header merged into the event, the same routes and texts. Written
here for comparison only (run by bench/ingest.py), never used by the pipeline.
Environment: BENCH_KAFKA (bootstrap), BENCH_TOPIC.
"""

from __future__ import annotations

import json
import os

from flask import Flask, request
from kafka import KafkaProducer

app = Flask(__name__)
producer = KafkaProducer(bootstrap_servers=os.environ.get("BENCH_KAFKA", "127.0.0.1:9092"))
TOPIC = os.environ.get("BENCH_TOPIC", "bench-reference")


def log_to_kafka(topic: str, event: dict[str, str]) -> None:
    event.update(request.headers)
    producer.send(topic, json.dumps(event).encode())


@app.route("/")
def default_response() -> str:
    log_to_kafka(TOPIC, {"event_type": "default"})
    return "Welcome to Legends of Zion!\n"


@app.route("/purchase_a_sword")
def purchase_a_sword() -> str:
    log_to_kafka(TOPIC, {"event_type": "purchase_sword"})
    return "Sword Purchased!\n"


@app.route("/purchase_a_shield")
def purchase_shield() -> str:
    log_to_kafka(TOPIC, {"event_type": "purchase_shield"})
    return "Shield Purchased!\n"


@app.route("/join_guild")
def join_guild() -> str:
    log_to_kafka(TOPIC, {"event_type": "join_guild"})
    return "Guild Joined!\n"


@app.route("/purchase_a_potion")
def purchase_potion() -> str:
    log_to_kafka(TOPIC, {"event_type": "purchase_potion"})
    return "Potion Purchased!\n"
