"""The one table the bench prints: a row per measure, a column per system, the gain and the target."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# graphgate through /api/v1 (SQLite, then PostgreSQL checkpoints), graphgate through its LangGraph Server API, and
# the peers driven by the same LangGraph SDK client: `langgraph dev` (the first peer) and Aegra
COLUMNS = ("graphgate", "graphgate_pg", "graphgate_lg", "peer", "aegra")
HEADERS = {
    "graphgate": "graphgate /api/v1 (SQLite)",
    "graphgate_pg": "graphgate /api/v1 (PostgreSQL)",
    "graphgate_lg": "graphgate LangGraph API (SQLite)",
    "peer": "langgraph dev",
    "aegra": "Aegra",
}
# one gain column per peer: how many times better graphgate /api/v1 (SQLite) is than it
GAINS = {"peer": "gain vs langgraph dev", "aegra": "gain vs Aegra"}


@dataclass
class Row:
    workload: str
    measure: str
    values: dict[str, float | str | None] = field(default_factory=dict)  # column -> number or a note
    higher_is_better: bool = False
    target: str = ""
    met: bool | None = None  # the target, judged on the graphgate /api/v1 (SQLite) column
    digits: int = 1
    compare: bool = True  # False: no gain column (the number describes the bench, not the systems)

    def gain(self, peer: str = "peer") -> float | None:
        """How many times better graphgate /api/v1 (SQLite) is than ``peer``, when both are numbers."""
        if not self.compare:
            return None
        ours, theirs = self.values.get("graphgate"), self.values.get(peer)
        if not isinstance(ours, (int, float)) or not isinstance(theirs, (int, float)):
            return None
        if math.isnan(ours) or math.isnan(theirs) or ours <= 0 or theirs <= 0:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours

    def cell(self, column: str) -> str:
        value = self.values.get(column)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if math.isnan(value):
            return "-"
        return f"{value:,.{self.digits}f}"


def judge(value: float | str | None, limit: float, higher_is_better: bool = False) -> bool | None:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return value >= limit if higher_is_better else value <= limit


def _gain_text(row: Row, peer: str) -> str:
    gain = row.gain(peer)
    return "" if gain is None else f"{gain:,.1f}x"


def _target_text(row: Row) -> str:
    if not row.target:
        return ""
    mark = {True: " met", False: " MISSED", None: ""}[row.met]
    return f"{row.target}{mark}"


def render_text(rows: list[Row], columns: tuple[str, ...] = COLUMNS) -> str:
    """A fixed-width table for the terminal."""
    head = ["workload", "measure", *(HEADERS[c] for c in columns), *GAINS.values(), "target"]
    body = [
        [r.workload, r.measure, *(r.cell(c) for c in columns), *(_gain_text(r, p) for p in GAINS), _target_text(r)]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    numeric = set(range(2, 2 + len(columns) + len(GAINS)))

    def fmt(line: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [fmt(head), rule]
    previous = None
    for row, line in zip(rows, body):
        if row.workload == previous:
            line = ["", *line[1:]]
        previous = row.workload
        out.append(fmt(line))
    return "\n".join(out)


def render_markdown(rows: list[Row], columns: tuple[str, ...] = COLUMNS) -> str:
    """The same table in Markdown, for docs/performance.md."""
    head = ["workload", "measure", *(HEADERS[c] for c in columns), *GAINS.values(), "target"]
    out = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(columns) + len(GAINS)) + ["---"]) + "|",
    ]
    previous = None
    for row in rows:
        workload = "" if row.workload == previous else row.workload
        previous = row.workload
        cells = [
            workload,
            row.measure,
            *(row.cell(c) for c in columns),
            *(_gain_text(row, p) for p in GAINS),
            _target_text(row),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
