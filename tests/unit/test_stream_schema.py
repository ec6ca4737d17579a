"""The stream's Spark types are derived from the contract (no JVM needed)."""

from __future__ import annotations

from pyspark.sql.types import DecimalType, TimestampType

from gamepipe.config import load_settings
from gamepipe.events import load_contract
from gamepipe.stream.transform import read_schema, spark_type


def test_read_schema_has_every_contract_field_typed() -> None:
    contract = load_contract(load_settings().schemas_dir)
    schema = read_schema(contract)
    assert [f.name for f in schema.fields] == list(contract.columns())
    assert schema["price"].dataType == DecimalType(12, 2)
    assert schema["received_at"].dataType == TimestampType()


def test_decimal_parsing() -> None:
    assert spark_type("decimal(10,3)") == DecimalType(10, 3)
