"""`python -m gamepipe.stack.launch SPEC`: how supervisord starts a service, every time.

In: the spec `stack/supervisor.py` wrote (name, argv, cwd, environment, and the settings
the stack was started with). Out: the
service's own process, in place of this one (exec: same pid, so supervisord signals the
service itself). First the service's `prepare` runs, as for `gamepipe up`: a restart
after a crash gets fresh configuration and a clean slate (the API's metrics files, the
stream's status), never a stale one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    os.environ.clear()
    os.environ.update(spec["env"])
    from gamepipe.config import Settings
    from gamepipe.stack.manager import service

    print(f"\n=== gamepipe: starting {spec['name']} at {time.strftime('%F %T')} ===", flush=True)
    service(Settings(**spec["settings"]), spec["name"]).prepare()
    os.chdir(spec["cwd"])
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])  # noqa: S606 - argv from our own spec, no shell


if __name__ == "__main__":
    main()
