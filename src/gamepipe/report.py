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
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts go into the notebook as PNG

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from gamepipe.config import Settings, load_settings
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

    def df(self, name: str) -> pd.DataFrame:
        sql = named(self.settings, name, self.run_id)
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


def stacked_activity(frame: pd.DataFrame) -> Axes:
    pivot = frame.pivot_table(index="minute", columns="event_type", values="events", fill_value=0)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bottom = None
    for i, column in enumerate(pivot.columns):
        ax.bar(pivot.index.astype(str).str[11:16], pivot[column], bottom=bottom, label=column, color=PALETTE[i % 7])
        bottom = pivot[column] if bottom is None else bottom + pivot[column]
    ax.set_title("Activity over time (events per minute, UTC)", loc="left", fontsize=12, fontweight="bold")
    ax.legend(frameon=False, fontsize=8, ncol=3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    show(fig)
    return ax


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
