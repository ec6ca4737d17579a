"""The analytics report: `notebooks/report.ipynb`, executed and rendered to HTML.

In: a load run (optional: all data otherwise) and an engine (trino or duckdb). Out:
`reports/report.ipynb` (executed) and `reports/report.html` (self-contained: charts are
inline PNG). The notebook holds the explanation and the pictures; the plumbing it
calls lives here: `Report` (named queries as DataFrames, the run's manifest), the
charts, and the pipeline diagram. Reads settings: everything `query` reads, var.
"""

from __future__ import annotations

import io
import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts go into the notebook as PNG

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from gamepipe.config import Settings, load_settings
from gamepipe.effects import Estimate
from gamepipe.manifest import Manifest, Verified, runs
from gamepipe.query import Engine, named

log = logging.getLogger(__name__)

PALETTE = ["#2E5A88", "#E07B39", "#3C8D5A", "#B8433F", "#7D5BA6", "#8C8C8C", "#D4A72C"]


class Report:
    """What a notebook cell needs: `report.df("swords_by_type")`, `report.manifest`."""

    def __init__(self, run_id: str | None = None, engine: str = "trino", settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.run_id = run_id or None
        self.engine = Engine(self.settings, engine)
        self.queries_used: dict[str, str] = {}
        self.manifest = Manifest.load(self.settings, self.run_id) if self.run_id in runs(self.settings) else None

    def df(self, name: str, **days: date) -> pd.DataFrame:
        """The rows of queries/<name>.sql for the report's run; `days` fills its date
        parameters (`report.df("sword_rates", change_day=...)`)."""
        sql = named(self.settings, name, self.run_id, days, self.engine.name)
        self.queries_used[name] = sql.strip()
        result = self.engine.run(sql)
        frame = pd.DataFrame(result.rows, columns=result.columns)
        for column in frame.columns:  # decimals (prices) as floats for plotting and arithmetic
            if frame[column].map(lambda v: v.__class__.__name__ == "Decimal").any():
                frame[column] = frame[column].astype(float)
        return frame

    def freshness(self) -> Verified | None:
        """What `gamepipe verify` measured for the run: everything visible within N s."""
        return Verified.load(self.settings, self.run_id) if self.run_id else None

    def headline(self) -> dict[str, Any]:
        row = self.df("headline").iloc[0].to_dict()
        return {k: (float(v) if k == "revenue" else int(v)) for k, v in row.items()}


# -- charts -------------------------------------------------------------------------
def show(fig: Figure) -> None:
    """Put the figure in the notebook as an inline PNG, whatever matplotlib's backend."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"))  # type: ignore[no-untyped-call]


def bar(frame: pd.DataFrame, x: str, y: str, title: str, xlabel: str = "", color: str = PALETTE[0]) -> Axes:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(frame[x].astype(str), frame[y], color=color)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(y.replace("_", " "))
    ax.spines[["top", "right"]].set_visible(False)
    for label in ax.get_xticklabels():
        label.set_rotation(30 if len(frame) > 5 else 0)
        label.set_horizontalalignment("right" if len(frame) > 5 else "center")
    fig.tight_layout()
    show(fig)
    return ax


def _titled(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.spines[["top", "right"]].set_visible(False)


def table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
    """A table for readers: no index column, numbers formatted (`formats`: column -> "{:,.2f}")."""
    from IPython.display import HTML, display

    shown = frame.copy()
    for column, fmt in (formats or {}).items():
        shown[column] = shown[column].map(lambda v, f=fmt: "" if v is None or pd.isna(v) else f.format(v))
    display(HTML(shown.to_html(index=False, border=0, classes="gp-table")))  # type: ignore[no-untyped-call]


def dau_chart(days: pd.DataFrame) -> Axes:
    """Daily active players, new and returning, with the 7-day active (WAU) as a line."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    labels = [str(d)[5:10] for d in days["day"]]
    ax.bar(labels, days["new_players"], color=PALETTE[1], label="new")
    ax.bar(labels, days["returning_players"], bottom=days["new_players"], color=PALETTE[0], label="returning")
    ax.plot(labels, days["wau"], color=PALETTE[2], marker="o", lw=1.5, label="active in the last 7 days (WAU)")
    _titled(ax, "Players active per game day (DAU), new and returning")
    ax.set_ylabel("players")
    ax.legend(frameon=False, fontsize=8)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    show(fig)
    return ax


def retention_frame(retention: pd.DataFrame, last_day: Any) -> pd.DataFrame:
    """Cohort x day n: the share of each cohort active n days after its first (NaN where
    that day is past the data)."""
    counts = retention.pivot_table(index="cohort", columns="day_n", values="players", fill_value=0)
    share = counts.div(counts[0], axis=0)
    for cohort in share.index:
        for n in share.columns:
            if (last_day - cohort).days < n:
                share.loc[cohort, n] = float("nan")
    return share


def retention_heatmap(share: pd.DataFrame) -> Axes:
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(share) + 1.4))
    ax.imshow(share.to_numpy(float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(share.columns)), [f"D{n}" for n in share.columns])
    ax.set_yticks(range(len(share.index)), [str(c)[5:10] for c in share.index])
    for (i, j), v in np.ndenumerate(share.to_numpy(float)):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7, color="white" if v > 0.55 else "black")
    ax.set_xlabel("days after the first")
    ax.set_ylabel("cohort (first day)")
    ax.set_title("Retention: share of each day's new players active n days later", loc="left", fontsize=12,
                 fontweight="bold")  # fmt: skip
    fig.tight_layout()
    show(fig)
    return ax


def funnel_chart(steps: list[tuple[str, int]]) -> Axes:
    fig, ax = plt.subplots(figsize=(9, 2.6))
    names = [n for n, _ in steps][::-1]
    values = [v for _, v in steps][::-1]
    ax.barh(names, values, color=PALETTE[0])
    first = max(steps[0][1], 1)
    for i, (_, value) in enumerate(steps):
        before = steps[i - 1][1] if i else value
        note = f"{value:,}  ({value / first:.0%} of all"
        note += f", {value / max(before, 1):.0%} of the step before)" if i else ")"
        ax.text(value, len(steps) - 1 - i, "  " + note, va="center", fontsize=9)
    ax.set_xlim(0, first * 1.6)
    _titled(ax, "Funnel: first visit, then a first purchase, then a guild join")
    fig.tight_layout()
    show(fig)
    return ax


def weighted_median(values: pd.Series, weights: pd.Series) -> float | None:
    """The median of `values` each counted `weights` times, the lower one of an even count
    (None: no weight)."""
    v = values.to_numpy(float)
    order = v.argsort()
    v, w = v[order], weights.to_numpy(float)[order]
    if not w.sum():
        return None
    return float(v[np.searchsorted(np.cumsum(w), w.sum() / 2)])


def session_histogram(lengths: pd.DataFrame) -> Axes:
    """From queries/session_lengths.sql: sessions by length in whole seconds."""
    minutes = lengths["length_s"].astype(float) / 60
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.hist(minutes.clip(upper=90), bins=45, weights=lengths["sessions"], color=PALETTE[0])
    median = weighted_median(minutes, lengths["sessions"]) or 0.0
    ax.axvline(median, color=PALETTE[1], lw=2)
    ax.text(median, ax.get_ylim()[1] * 0.9, f"  median {median:.1f} min", color=PALETTE[1])
    ax.set_xlabel("session length, minutes (first to last event; 90+ shown at 90)")
    ax.set_ylabel("sessions")
    _titled(ax, "How long sessions last")
    fig.tight_layout()
    show(fig)
    return ax


def revenue_chart(revenue_by_day: pd.DataFrame, days: pd.DataFrame, change: Any = None) -> Axes:
    """Revenue per game day by item family, and revenue per daily active player (ARPDAU)."""
    pivot = revenue_by_day.pivot_table(index="day", columns="event_type", values="revenue", aggfunc="sum")
    pivot = pivot.reindex(days["day"]).fillna(0)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    labels = [str(d)[5:10] for d in pivot.index]
    bottom = np.zeros(len(pivot))
    for i, column in enumerate(pivot.columns):
        ax.bar(labels, pivot[column], bottom=bottom, color=PALETTE[(i + 1) % 7], label=column.replace("purchase_", ""))
        bottom += pivot[column].to_numpy(float)
    if change is not None and change in list(pivot.index):
        x = list(pivot.index).index(change) - 0.5
        ax.axvline(x, color=PALETTE[3], ls="--")
        ax.text(x, ax.get_ylim()[1] * 0.92, " sword prices change", color=PALETTE[3], fontsize=9)
    twin = ax.twinx()
    arpdau = days["revenue"].astype(float).to_numpy() / days["dau"].to_numpy()
    twin.plot(labels, arpdau, color="black", marker=".", lw=1, label="ARPDAU ($, right)")
    twin.set_ylim(0, max(arpdau.max() * 1.3, 0.01) if len(arpdau) else 1)
    twin.spines[["top"]].set_visible(False)
    _titled(ax, "Revenue per game day ($) by item, and revenue per daily active player")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    twin.legend(frameon=False, fontsize=8, loc="upper right")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    show(fig)
    return ax


def effects_chart(estimates: list[Estimate]) -> Axes:
    """Each estimate with its 95 % interval against the line of no effect."""
    if not estimates:
        fig, ax = plt.subplots(figsize=(9, 0.8))
        ax.axis("off")
        ax.text(0, 0.5, "Too little data to compare anything yet (see the summary).", fontsize=11, va="center")
        show(fig)
        return ax
    fig, axes = plt.subplots(1, len(estimates), figsize=(9, 1.9), squeeze=False)
    for ax, e in zip(axes[0], estimates, strict=True):
        colour = PALETTE[2] if e.clear else PALETTE[5]
        ax.errorbar([e.value], [0], xerr=[[e.value - e.low], [e.high - e.value]], fmt="o", color=colour, capsize=6)
        ax.axvline(e.null, color="black", lw=1, ls=":")
        ax.set_yticks([])
        ax.set_title(e.what, fontsize=9, loc="left")
        ax.spines[["top", "right", "left"]].set_visible(False)
    fig.suptitle("How sure we are: each effect with its 95 % interval (dotted: no effect)", x=0.01, ha="left",
                 fontsize=11, fontweight="bold")  # fmt: skip
    fig.tight_layout()
    show(fig)
    first: Axes = axes[0][0]
    return first


def pipeline_diagram() -> Axes:
    """The pipeline as built, drawn here (no image file, no external tool)."""
    fig, ax = plt.subplots(figsize=(11, 3.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 3.2)
    ax.axis("off")
    stages = [
        (0.2, "Players / ab", "HTTP GET seed routes\nPOST /v1/events"),
        (2.35, "Ingestion API", "validate (schemas/)\n2xx only after ack"),
        (4.5, "Kafka", "topic events\nacks=all, idempotent"),
        (6.65, "Spark streaming", "parse, reject, dedup,\nroute; exactly-once"),
        (8.8, "Iceberg tables", "Parquet, by day\nJDBC catalog (Postgres)"),
    ]
    for x, title, text in stages:
        box = FancyBboxPatch((x, 1.2), 1.9, 1.5, boxstyle="round,pad=0.05", fc="#EEF3F8", ec=PALETTE[0], lw=1.5)
        ax.add_patch(box)
        ax.text(x + 0.95, 2.35, title, ha="center", va="center", fontsize=10, fontweight="bold")
        ax.text(x + 0.95, 1.7, text, ha="center", va="center", fontsize=8)
    for x, _, _ in stages[:-1]:
        ax.add_patch(FancyArrowPatch((x + 1.95, 1.95), (x + 2.3, 1.95), arrowstyle="-|>", mutation_scale=14))
    ax.text(9.75, 0.75, "Trino (catalog hive) · DuckDB\n→ this report, gamepipe query", ha="center", fontsize=8.5)
    ax.add_patch(FancyArrowPatch((9.75, 1.15), (9.75, 1.0), arrowstyle="-|>", mutation_scale=12))
    ax.text(3.3, 0.75, "bad input → 4xx, nothing kept\nKafka down → 503, retry", ha="center", fontsize=8.5)
    ax.text(7.6, 0.75, "invalid records →\nrejected_events (reason)", ha="center", fontsize=8.5)
    fig.tight_layout()
    show(fig)
    return ax


# -- rendering ----------------------------------------------------------------------
def render(settings: Settings, run_id: str | None, engine: str, out_dir: Path | None = None) -> Path:
    """Execute the notebook with papermill, render it to HTML; returns the HTML path."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out = out_dir or settings.root / "reports"
    out.mkdir(parents=True, exist_ok=True)
    executed = out / "report.ipynb"
    started = time.monotonic()
    papermill.execute_notebook(
        str(settings.root / "notebooks" / "report.ipynb"),
        str(executed),
        parameters={"run_id": run_id or "", "engine": engine},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(settings.root),
    )
    notebook = nbformat.read(executed, as_version=4)  # type: ignore[no-untyped-call]
    exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]
    exporter.exclude_input = True  # a report for readers: the SQL is in its appendix
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(notebook)
    html = out / "report.html"
    html.write_text(body)
    log.info("report rendered in %.0fs: %s", time.monotonic() - started, html)
    return html
