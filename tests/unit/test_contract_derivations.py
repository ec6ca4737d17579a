"""Everything derived from schemas/ follows a change made there, and only there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gamepipe.api.openapi import build
from gamepipe.config import load_settings
from gamepipe.events import SEED_ROUTES, load_contract
from gamepipe.stream.transform import read_schema


def test_a_new_field_reaches_every_derivation(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(load_settings().schemas_dir, schemas)
    path = schemas / "purchase_sword.v1.json"
    doc = json.loads(path.read_text())
    doc["properties"]["rarity"] = {"type": ["string", "null"], "maxLength": 16}
    path.write_text(json.dumps(doc))

    contract = load_contract(schemas)
    assert "rarity" in [f.name for f in read_schema(contract).fields]  # Spark's read schema
    assert ("rarity", "string") in contract.table_columns("purchase_sword")  # the table
    fields, problem = contract.coerce_query("purchase_sword", {"rarity": "epic"})  # the GET route
    assert problem is None and fields == {"rarity": "epic"}
    spec = build(contract, SEED_ROUTES)  # the API's OpenAPI
    assert "rarity" in spec["components"]["schemas"]["Event_purchase_sword"]["properties"]
    assert "rarity" in [p["name"] for p in spec["paths"]["/purchase_a_sword"]["get"]["parameters"]]
    # ... and nowhere it does not belong
    assert ("rarity", "string") not in contract.table_columns("join_guild")
