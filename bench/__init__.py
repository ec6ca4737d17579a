"""The benchmark harness: every target figure (floor and goal), measured on this machine.

    make bench                     # everything, rewrites docs/benchmarks.md
    gamepipe bench freshness       # one figure (ingest, freshness, soak, query, memory, demo)

Each benchmark writes `var/bench/<name>.json` (and a time-stamped copy); `bench.doc`
turns the latest of each into docs/benchmarks.md with the floors marked met or not.
"""
