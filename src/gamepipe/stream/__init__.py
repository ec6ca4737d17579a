"""Kafka -> Spark Structured Streaming -> Iceberg tables (see job.py)."""
