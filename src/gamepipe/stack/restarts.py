"""Every start and exit of the stack's services, on record.

`python -m gamepipe.stack.restarts FILE` is supervisord's event listener (its
PROCESS_STATE events, by supervisor's listener protocol on stdin/stdout): one JSON
line per change of state appended to FILE (`var/logs/restarts.jsonl`): the time, the
service, the state it left and the one it entered, its pid, and for an exit whether
supervisord expected it (a stop asked for) or not (a crash, a kill). `read` and
`summary` turn the file into what `gamepipe status` shows: per service, the unexpected
exits and supervisord's restarts, and the last of them.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def listen(path: Path) -> None:
    from supervisor.childutils import listener

    while True:
        headers, payload = listener.wait(sys.stdin, sys.stdout)
        fields = dict(token.split(":", 1) for token in payload.split())
        record = {
            "time": time.time(),
            "service": fields.get("processname"),
            "from": fields.get("from_state"),
            "to": headers["eventname"].removeprefix("PROCESS_STATE_"),
            "pid": int(fields["pid"]) if fields.get("pid", "").isdigit() else None,
            "expected": fields.get("expected") == "1" if "expected" in fields else None,
        }
        if record["service"] != "restarts":
            with path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        listener.ok(sys.stdout)


def read(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


@dataclass(frozen=True)
class Restarts:
    crashes: int  # exits supervisord did not expect (killed, crashed), since the file began
    restarts: int  # starts that followed a crash or a failed start
    last_crash: float | None
    fatal: bool  # supervisord gave up: it failed to start START_RETRIES times


def summary(records: list[dict[str, Any]], service: str) -> Restarts:
    mine = [r for r in records if r["service"] == service]
    crashes = [r for r in mine if r["to"] in ("EXITED", "BACKOFF") and r["expected"] is not True]
    restarts = [r for r in mine if r["to"] == "STARTING" and r["from"] in ("EXITED", "BACKOFF")]
    return Restarts(
        crashes=len(crashes),
        restarts=len(restarts),
        last_crash=crashes[-1]["time"] if crashes else None,
        fatal=bool(mine) and mine[-1]["to"] == "FATAL",
    )


if __name__ == "__main__":
    listen(Path(sys.argv[1]))
