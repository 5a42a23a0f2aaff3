"""Charts as text, drawn for where they land: no plotting dependency and no image to host.

GitHub renders a ```` ```mermaid ```` block as a chart in an issue body; the self-hosted Prefect
UI and Slack do not, so markdown artifacts and Slack get a Unicode sparkline with the numbers
beside it (a chart a screen reader and a copy-paste keep). A PNG artifact would need a URL to
serve it from, which a team's Prefect server does not give: not drawn.

Labels reach Mermaid inside double quotes or brackets, where a quote, bracket or newline would
end the chart's syntax early: they are reduced to characters Mermaid takes as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
_UNSAFE = re.compile(r"[^\w .:%/+-]")


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled from zero to the largest; a missing value is a space.

    From zero, not from the smallest: a week of 40 to 44 pages a day is flat, not a cliff."""
    top = max((v for v in values if v is not None), default=0)
    if top <= 0:
        return "".join(" " if v is None else BLOCKS[0] for v in values)
    last = len(BLOCKS) - 1
    return "".join(" " if v is None else BLOCKS[min(last, round(max(v, 0) / top * last))] for v in values)


def _label(text: str, limit: int = 40) -> str:
    """A label Mermaid reads as text: no quote, bracket, comma or newline that ends its syntax."""
    return _UNSAFE.sub(" ", text).strip()[:limit] or "-"


def _number(value: float) -> str:
    return f"{value:g}"


def mermaid_xy(
    title: str, labels: Sequence[str], values: Sequence[float], *, y_axis: str, line: bool = False
) -> str:
    """A Mermaid `xychart-beta` bar (or line) chart, fenced for a GitHub issue body."""
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    top = max([*values, 1])
    x = ", ".join(f'"{_label(lab, 12)}"' for lab in labels)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'  title "{_label(title, 80)}"',
            f"  x-axis [{x}]",
            f'  y-axis "{_label(y_axis)}" 0 --> {_number(top)}',
            f"  {'line' if line else 'bar'} [{', '.join(_number(v) for v in values)}]",
            "```",
        ]
    )


def bar_rows(labels: Sequence[str], values: Sequence[int], *, width: int = 20) -> list[str]:
    """A markdown table of horizontal bars, the numbers beside them: pages by hour of day."""
    top = max([*values, 0])
    rows = ["| | Pages | |", "|---|---:|---|"]
    for label, value in zip(labels, values, strict=True):
        bar = "█" * (round(value / top * width) if top else 0)
        rows.append(f"| {label} | {value} | {bar} |")
    return rows
