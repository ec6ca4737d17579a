"""The `gamepipe` command: one entry point for people, the Makefile and CI.

Heavy imports (pyspark, trino, confluent_kafka) happen inside the commands that need
them, so `gamepipe --help` is instant. Errors are printed as one clear message with
what to do next, and exit non-zero.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gamepipe.config import Settings, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])
# Wide when piped (CI logs, `make demo | tee`): tables must not wrap into noise.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _settings() -> Settings:
    return load_settings()


def _say(line: str) -> None:
    console.print(line, markup=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _guard(fn: Callable[[], Any]) -> Any:
    """Run `fn`, turning our known errors into a message and an exit code."""
    from gamepipe.demo import LandingTimeout
    from gamepipe.load import LoadError
    from gamepipe.query import QueryError
    from gamepipe.stack.base import StackError

    try:
        return fn()
    except (StackError, QueryError, LoadError, LandingTimeout) as exc:
        _fail(str(exc))


@app.command()
def setup() -> None:
    """Install what the stack needs: Debian packages, JVM artifacts (Maven)."""
    from gamepipe.stack.setup import setup as do_setup

    _guard(lambda: do_setup(_settings(), _say))
    _say("setup done")


@app.command()
def up() -> None:
    """Start the local stack (postgres, kafka, trino, stream, api) and wait until healthy."""
    from gamepipe.stack.manager import up as do_up

    started = time.monotonic()
    _say("starting the stack")
    _guard(lambda: do_up(_settings(), _say))
    _say(f"stack up in {time.monotonic() - started:.0f}s")


@app.command()
def down() -> None:
    """Stop every process of the stack."""
    from gamepipe.stack.manager import down as do_down

    _guard(lambda: do_down(_settings(), _say))


@app.command()
def status() -> None:
    """Show each service: pid, health, address, log."""
    from gamepipe.stack.apps import Stream
    from gamepipe.stack.manager import status as do_status

    settings = _settings()
    table = Table("service", "pid", "state", "up for", "crashes / restarts", "where", "log")
    for s in do_status(settings):
        if s.healthy:
            state = "[green]healthy[/]"
        elif s.restarts.fatal:
            state = "[red]FATAL: supervisord gave up restarting it[/]"
        elif s.pid or s.state in ("STARTING", "BACKOFF"):
            state = f"[yellow]{s.state.lower()}, not healthy[/]"
        else:
            state = "[red]down[/]"
        since = f"{time.time() - s.since:.0f} s" if s.since and s.pid else "-"
        r = s.restarts
        crashes = f"{r.crashes} / {r.restarts}" + (f", last {time.strftime('%H:%M:%S', time.localtime(r.last_crash))}"
                                                   if r.last_crash else "")  # fmt: skip
        table.add_row(s.name, str(s.pid or "-"), state, since, crashes, s.where, s.log)
    console.print(table)
    stream_status = Stream(settings).status()
    if stream_status:
        from gamepipe.stream.monitor import health, stream_verdict

        tables = Table("table", "batch", "last commit", "rows/s", "kafka lag", "late rows")
        healths = health(settings, stream_status)
        for t in healths:
            lag = "?" if t.lag is None else str(t.lag)
            late = str(stream_status["tables"].get(t.table, {}).get("late_rows", "-"))
            tables.add_row(t.table, str(t.batch), t.last_commit or "-", f"{t.rows_per_s or 0:.0f}", lag, late)
        console.print(tables)
        judged = stream_verdict(settings, stream_status, healths)
        colour = {"keeping up": "green", "behind": "yellow"}.get(judged.state, "red")
        console.print(f"stream: [{colour}]{judged.state}[/]")
        for warning in judged.warnings:
            console.print(f"[bold red]warning:[/] {warning}")


@app.command()
def logs(
    service: Annotated[str, typer.Argument(help="postgres, kafka, trino, stream or api")],
    lines: Annotated[int, typer.Option("-n", help="lines to show")] = 50,
    follow: Annotated[bool, typer.Option("-f", help="keep following")] = False,
) -> None:
    """Show a service's log."""
    from gamepipe.stack.manager import service as find

    try:
        svc = find(_settings(), service)
    except KeyError as exc:
        _fail(str(exc.args[0]))
        return
    if not svc.log_path.exists():
        _fail(f"{svc.log_path} does not exist yet: {service} was never started")
    argv = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(svc.log_path)]
    raise typer.Exit(subprocess.call(argv))


def print_result(sql: str, result: Any) -> None:
    console.print(f"[bold]{sql}[/]", soft_wrap=True)
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console.print(table)


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL, or @name for queries/<name>.sql")]) -> None:
    """Run SQL on Trino (catalog hive, schema default: the seed's Presto session)."""
    from gamepipe import query as q

    settings = _settings()
    text = _guard(lambda: q.named(settings, sql[1:])) if sql.startswith("@") else sql
    result = _guard(lambda: q.run(settings, text))
    print_result(text.strip(), result)


@app.command()
def load(
    scenario: Annotated[
        str, typer.Option(help="seed (generate_data.sh), game (a population), stress (max rate)")
    ] = "seed",
    players: Annotated[int, typer.Option(help="game: players in the population")] = 500,
    requests: Annotated[
        int, typer.Option("--requests", "--events", help="game: events to send; stress: batches, unless --duration")
    ] = 20000,
    concurrency: Annotated[int, typer.Option(help="game: ab processes in parallel")] = 8,
    seed: Annotated[int, typer.Option(help="game: random seed (same seed, same plan)")] = 42,
    faults: Annotated[int, typer.Option(help="game: how many of each fault to inject")] = 0,
    duration: Annotated[float, typer.Option(help="stress: seconds to send for (else --requests batches)")] = 0,
) -> None:
    """Send game traffic to the API with Apache Bench."""
    settings = _settings()
    if scenario == "seed":
        from gamepipe import load as ld

        runs = _guard(lambda: ld.run_seed(settings, _say))
        _print_load_summary(runs)
    elif scenario == "game":
        manifest = _run_game(settings, players, requests, concurrency, seed, faults)
        _print_game_summary(manifest)
    elif scenario == "stress":
        from gamepipe.load.stress import run_stress

        what = f"{duration:.0f}s" if duration else f"{requests:,} batches"
        _say(f"stress: POSTing 100-event batches with ab -c {concurrency} for {what} (ab prints its progress)")
        batches = 0 if duration else requests
        _print_game_summary(_guard(lambda: run_stress(settings, seed, concurrency, batches, duration or None)))
    else:
        _fail(f"unknown scenario {scenario!r}; available: seed, game, stress")


def _run_game(settings: Settings, players: int, events: int, concurrency: int, seed: int, faults: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gamepipe.load.game import run_game

    columns = (
        TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
        TextColumn("{task.fields[rate]:>8} ev/s  ok {task.fields[ok]}  errors {task.fields[errors]}"),
        TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("load", total=events, rate="-", ok=0, errors=0)
        started = time.monotonic()

        def progress(sent: int, ok: int, errors: int) -> None:
            rate = f"{sent / max(time.monotonic() - started, 1e-3):,.0f}"
            bar.update(task, completed=sent, rate=rate, ok=ok, errors=errors)

        return _guard(lambda: run_game(settings, seed, players, events, concurrency, faults, progress))


def _print_game_summary(m: Any) -> None:
    r = m["requests"]
    table = Table("run " + m["run_id"], "value")
    table.add_row("requests sent (ab)", f"{r['sent']:,}  {r['by_kind']}")
    table.add_row("answered 2xx / non-2xx", f"{r['2xx']:,} / {r['non_2xx']:,}")
    table.add_row("answered as planned", f"{r['answered_as_expected']:,}  unexpected: {r['unexpected_by_kind'] or 0}")
    if "by_status" in r:
        table.add_row("statuses; requests retried (503)", f"{r['by_status']}; {r['retried']:,}")
    table.add_row("events accepted", f"{m['accepted_events']:,} of {m['truth']['events']:,} planned")
    table.add_row("requests/s, events/s", f"{m['requests_per_s']}, {m['events_per_s']}")
    lat = m["latency_ms"]
    table.add_row("latency ms (ab) p50/p95/p99/max", f"{lat['p50']}/{lat['p95']}/{lat['p99']}/{lat['max']}")
    table.add_row("manifest", f"var/runs/{m['run_id']}/manifest.json")
    console.print(table)


def _print_load_summary(runs: Any) -> None:
    sent = sum(r.requests for r in runs)
    ok = sum(r.stats.ok for r in runs)
    _say(f"sent {sent} requests: {ok} answered 2xx, {sent - ok} not")


@app.command()
def verify(
    run: Annotated[str, typer.Argument(help="run id under var/runs/ (default: the latest)")] = "",
    wait: Annotated[float, typer.Option(help="seconds to wait for the events to land")] = 120.0,
) -> None:
    """Reconcile a load run's ground truth with the tables (through Trino)."""
    from gamepipe import verify as vf

    settings = _settings()
    try:
        manifest = vf.load_manifest(settings, run or vf.latest_run(settings))
    except vf.VerifyError as exc:
        _fail(str(exc))
        return
    if not _verify(settings, manifest, wait):
        raise typer.Exit(1)


def _verify(settings: Settings, manifest: Any, wait_s: float) -> bool:
    """Run the checks until they pass or `wait_s` is over; print them; True if all pass."""
    from gamepipe import verify as vf

    deadline = time.monotonic() + wait_s
    while True:
        results = _guard(lambda: vf.checks(settings, manifest))
        if all(c.ok for c in results) or time.monotonic() > deadline:
            break
        time.sleep(settings.stream.trigger_seconds)
    table = Table("check", "expected", "found", "")
    for c in results:
        table.add_row(c.what, _short(c.expected), _short(c.found), "[green]ok[/]" if c.ok else "[red]MISMATCH[/]")
    console.print(table)
    bad = [c for c in results if not c.ok]
    if bad:
        console.print(f"[bold red]error:[/] run {manifest['run_id']}: {len(bad)} check(s) failed: "
                      + "; ".join(c.what for c in bad))  # fmt: skip
        return False
    _say(f"run {manifest['run_id']}: all {len(results)} checks passed")
    if "finished_at" in manifest:
        # An upper bound of freshness: everything sent was visible this long after the last send.
        visible_after = round(time.time() - manifest["finished_at"], 1)
        record = {"verified_at": time.time(), "all_visible_within_s": visible_after, "polled_every_s":
                  settings.stream.trigger_seconds}  # fmt: skip
        (settings.var / "runs" / manifest["run_id"] / "verified.json").write_text(json.dumps(record))
    return True


@app.command()
def maintain(
    table: Annotated[
        list[str] | None, typer.Option(help="a table (repeatable); default: all the stream writes")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON line")] = False,
) -> None:
    """Compact small files, expire old snapshots, remove orphan files (Iceberg procedures)."""
    from gamepipe.stream.job import build_session
    from gamepipe.stream.maintain import CARE_JAVA_OPTIONS, CARE_MASTER
    from gamepipe.stream.maintain import maintain as do_maintain

    settings = _settings()
    if not as_json:
        _say("starting a Spark session for table care (about 20 s)")
    spark = build_session(settings, app_name="gamepipe-maintain", master=CARE_MASTER,
                          memory=settings.stream.maintain_memory, java_options=CARE_JAVA_OPTIONS)  # fmt: skip
    try:
        result = do_maintain(spark, settings, table or None)
    finally:
        spark.stop()
    if as_json:
        print(json.dumps(result), flush=True)
        return
    out = Table("table", "files rewritten", "files added", "expired data files", "orphans removed")
    for name, r in result.items():
        out.add_row(name, *(str(r[k]) for k in ("files_rewritten", "files_added", "snapshots_expired_data_files",
                                                  "orphan_files_removed")))  # fmt: skip
    console.print(out)


@app.command()
def replay(
    tables: Annotated[list[str], typer.Argument(help="tables to rebuild, e.g. sword_purchases events")],
    from_: Annotated[
        str, typer.Option("--from", help="earliest, a time (2026-11-28T10:00:00Z) or offsets JSON")
    ] = "earliest",
    to: Annotated[str, typer.Option(help="latest, a time or offsets JSON")] = "latest",
    suffix: Annotated[str, typer.Option(help="new table = <table><suffix>")] = "_replay",
    replace: Annotated[bool, typer.Option(help="drop and rebuild new tables that exist already")] = False,
) -> None:
    """Rebuild tables from Kafka into new tables (the stream's parsing, routing, dedup)."""
    from gamepipe.events import load_contract
    from gamepipe.stream.job import build_session
    from gamepipe.stream.replay import ReplayError, position
    from gamepipe.stream.replay import replay as do_replay

    settings = _settings()
    unknown = [t for t in tables if t not in settings.stream.tables]
    if unknown:
        _fail(f"unknown table(s) {unknown}; the stream writes {settings.stream.tables}")
    try:
        start, end = position(from_, start=True), position(to, start=False)
    except ReplayError as exc:
        _fail(str(exc))
        return
    _say(f"replaying {settings.kafka.topic} from {from_} to {to} into {[t + suffix for t in tables]}")
    spark = build_session(settings, app_name="gamepipe-replay")
    try:
        contract = load_contract(settings.schemas_dir)
        do_replay(spark, settings, contract, tables, start, end, suffix, replace, say=_say)
    except ReplayError as exc:
        _fail(str(exc))
        return
    finally:
        spark.stop()
    _say("replay done")


@app.command()
def bench(
    what: Annotated[
        list[str] | None,
        typer.Argument(help="ingest, freshness, query, memory, soak, demo, all (default), doc; files (1 h) if named"),
    ] = None,
    quick: Annotated[bool, typer.Option(help="tiny sizes: checks the harness, not the machine")] = False,
) -> None:
    """Run the benchmarks (bench/, needs the stack up) and rewrite docs/benchmarks.md."""
    settings = _settings()
    if not (settings.root / "bench" / "__main__.py").exists():
        _fail(f"no bench/ in {settings.root}: the benchmarks run from a checkout of gamepipe")
    argv = [sys.executable, "-m", "bench", *(what or ["all"]), *(["--quick"] if quick else [])]
    raise typer.Exit(subprocess.call(argv, cwd=settings.root))


@app.command()
def report(
    run: Annotated[str, typer.Option(help="a load run id (default: the latest; 'all' for all data)")] = "",
    engine: Annotated[str, typer.Option(help="trino (default) or duckdb (embedded)")] = "trino",
) -> None:
    """Execute the analytics notebook and render reports/report.html."""
    from gamepipe import report as rp
    from gamepipe import verify as vf

    settings = _settings()
    if engine not in ("trino", "duckdb"):
        _fail(f"unknown engine {engine!r}; use trino or duckdb")
    run_id = None if run == "all" else (run or _latest_or_none(settings, vf))
    _say(f"rendering the report ({'run ' + run_id if run_id else 'all data'}, engine {engine})")
    html = _guard(lambda: rp.render(settings, run_id, engine))
    _say(f"report: {html}")


def _latest_or_none(settings: Settings, vf: Any) -> str | None:
    try:
        return str(vf.latest_run(settings))
    except vf.VerifyError:
        return None


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


@app.command()
def demo(
    players: Annotated[int, typer.Option(help="game traffic: players")] = 500,
    events: Annotated[int, typer.Option(help="game traffic: events")] = 20000,
) -> None:
    """The whole pipeline: stack up, the seed's traffic and queries, game traffic, verify."""
    from gamepipe import demo as dm
    from gamepipe import query as q
    from gamepipe.stack.manager import up as do_up

    settings = _settings()
    started = time.monotonic()
    _say("1/7 starting the stack")
    _guard(lambda: do_up(settings, _say))
    _say("2/7 the seed's traffic with ab (generate_data.sh, once through)")
    t0 = time.monotonic()
    runs, landings = _guard(lambda: dm.run_seed_scenario(settings, _say))
    seed_landed_s = time.monotonic() - t0
    _say("3/7 the seed's Presto queries, through Trino")
    for sql in q.SEED_QUERIES:
        print_result(sql, _guard(functools.partial(q.run, settings, sql)))
    _say(f"4/7 game traffic with ab: {events:,} events from {players} players, with injected faults")
    manifest = _run_game(settings, players, events, concurrency=8, seed=42, faults=3)
    _print_game_summary(manifest)
    _say("5/7 verify: the run's ground truth against the tables")
    t1 = time.monotonic()
    verified = _verify(settings, manifest, wait_s=180)
    game_landed_s = time.monotonic() - t1
    _say("6/7 the report (notebooks/report.ipynb, executed and rendered)")
    from gamepipe import report as rp

    html = _guard(lambda: rp.render(settings, manifest["run_id"], "trino"))
    _say("7/7 summary")
    summary = Table("", "value")
    sent = sum(r.requests for r in runs)
    accepted = sum(r.stats.ok for r in runs)
    summary.add_row("seed: requests sent / accepted", f"{sent} / {accepted}")
    for x in landings:
        earlier = f"; {x.before} from earlier runs" if x.before else ""
        summary.add_row(f"seed: landed in {x.table}", f"{x.this_run} (expected {x.expected - x.before}{earlier})")
    summary.add_row("seed: traffic -> landed", f"{seed_landed_s:.1f}s")
    r = manifest["requests"]
    summary.add_row("game: requests sent / 2xx / refused as planned", f"{r['sent']:,} / {r['2xx']:,} / "
                    f"{r['non_2xx']:,}")  # fmt: skip
    summary.add_row("game: events accepted, events/s", f"{manifest['accepted_events']:,}, {manifest['events_per_s']:,}")
    summary.add_row("game: last event sent -> all verified", f"{game_landed_s:.1f}s")
    summary.add_row("game: verify", "passed" if verified else "FAILED")
    summary.add_row("report", str(html))
    summary.add_row("elapsed", f"{time.monotonic() - started:.0f}s")
    console.print(summary)
    if any(x.landed != x.expected for x in landings):
        _fail("seed: landed counts differ from what ab got answered (see above)")
    if not verified:
        _fail(f"game run {manifest['run_id']} does not reconcile (see the checks above)")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
