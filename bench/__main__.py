"""`python -m bench [ingest|freshness|soak|query|memory|demo|all|cluster|files|doc]` (`make bench`
= all and cluster; `files`, an hour of streaming, runs only when named; so does `cluster`,
which stops the stack that runs and starts each profile in turn)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.doc import DOC
from gamepipe.config import load_settings
from gamepipe.errors import GamepipeError

# demo first: it stops this checkout's stack, and its warm run leaves it up for the rest.
ALL = ("demo", "ingest", "freshness", "query", "memory", "soak")
# Only when named: `files` takes an hour; `cluster` stops the stack that runs, starts each
# profile in turn, then the single one again (`make bench` names it after `all`).
ALONE = ("files", "cluster")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("what", nargs="*", default=["all"], help=f"any of {', '.join(ALL + ALONE)}, all, doc")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, not the machine")
    parser.add_argument(
        "--sizes",
        help="query: events per size, comma-separated (default 1e5,1e6,1e7,1e8; 1e8 writes ~7 GB and takes ~40 min)",
    )
    parser.add_argument("--doc", type=Path, default=DOC, help=f"the report to write (default {DOC})")
    args = parser.parse_args()
    wanted = list(dict.fromkeys(n for w in args.what for n in (ALL if w == "all" else (w,))))
    unknown = sorted(set(wanted) - {*ALL, *ALONE, "doc"})
    if unknown:
        parser.error(f"unknown benchmark {unknown}; choose from {', '.join(ALL + ALONE)}, all, doc")
    quick = args.quick
    if quick and "demo" in wanted:
        print("bench: --quick leaves out demo (a demo has no quick version)", flush=True)
        wanted.remove("demo")
    settings = load_settings()
    started = time.monotonic()
    for name in wanted:
        began = time.monotonic()
        print(f"== bench {name}", flush=True)
        if name == "ingest":
            from bench import ingest

            ingest.run(settings, runs=1 if quick else 3, quick=quick)
        elif name == "freshness":
            from bench import freshness

            if quick:
                freshness.run(settings, rate=500, seconds=8, runs=1, warm_up_s=3)
            else:
                freshness.run(settings, rate=5000, seconds=60, runs=3)
        elif name == "soak":
            from bench import soak

            # quick: a sample every 2 s, so a slow read of the offsets still leaves several
            soak.run(settings, rate=1000 if quick else 20000, seconds=10 if quick else 600, every_s=2 if quick else 5)
        elif name == "query":
            from bench import query

            sizes = tuple(int(float(n)) for n in args.sizes.split(",")) if args.sizes else query.SIZES
            query.run(settings, sizes=(10_000,) if quick else sizes)
        elif name == "memory":
            from bench import memory

            memory.run(settings, seconds=5 if quick else 60, rate=500 if quick else 5000)
        elif name == "files":
            from bench import files

            files.run(settings, rate=500 if quick else 5000, seconds=30 if quick else 3600, every_s=10 if quick else 60)
        elif name == "cluster":
            from bench import cluster

            if quick:
                cluster.run(rate=500, seconds=10, requests=1000, batches=100)
            else:
                cluster.run()
        elif name == "demo":
            from bench import demo

            demo.run(settings)
        print(f"== bench {name}: {time.monotonic() - began:.0f} s", flush=True)
    from bench import doc

    doc.write(settings, args.doc)
    print(f"bench: done in {(time.monotonic() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    try:
        main()
    except GamepipeError as error:
        print(f"bench: error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
