"""gamepipe: a game-telemetry pipeline (API -> Kafka -> Spark -> Iceberg -> Trino)."""

__version__ = "0.1.0"
