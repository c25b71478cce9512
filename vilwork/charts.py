"""Plotly figures with one look: Thai font, shared colour bands, large readable labels.

Only ``bar``, ``scatter`` and ``pie`` traces are used: the offline pages ship the small
plotly.js basic bundle, which draws exactly those (``check_traces`` enforces it).
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import plotly.graph_objects as go
import yaml

from .errors import DefinitionError
from .registry import definitions_dir

ALLOWED_TRACES = {"bar", "scatter", "pie"}


@lru_cache(maxsize=None)
def display() -> dict:
    """Display settings (display.yaml): font, pass-rate bands, palette, small-cell threshold."""
    with open(definitions_dir() / "display.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def band(rate: float | None) -> dict | None:
    """The pass-rate band (colour and label) that ``rate`` (0–1) falls in; None for missing."""
    if rate is None or pd.isna(rate):
        return None
    for b in display()["pass_rate_bands"]:
        if rate < b["max"]:
            return b
    return display()["pass_rate_bands"][-1]


def band_color(rate: float | None) -> str:
    b = band(rate)
    return b["color"] if b else "#bdbdbd"


def check_traces(fig: go.Figure) -> go.Figure:
    """Raise DefinitionError if ``fig`` uses a trace type the offline bundle cannot draw."""
    bad = {tr.type for tr in fig.data} - ALLOWED_TRACES
    if bad:
        raise DefinitionError(f"trace types {sorted(bad)} are not in the offline plotly bundle (use {sorted(ALLOWED_TRACES)})")
    return fig


def style(fig: go.Figure, title: str | None = None, *, height: int = 420, legend: bool = True) -> go.Figure:
    """Apply the house style: Sarabun, white background, big type, no plotly logo clutter."""
    fig.update_layout(
        # the title at the very top, the legend in its own row under it (never one over the other)
        title={"text": title, "x": 0.0, "xanchor": "left", "yref": "container", "y": 1.0, "yanchor": "top",
               "pad": {"t": 10}} if title else None,
        font={"family": display()["font_family"], "size": 16, "color": "#1a1a1a"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        height=height,
        margin={"l": 10, "r": 20, "t": (60 if title else 20) + (40 if legend else 0), "b": 40},
        showlegend=legend,
        # xanchor too: a house template anchoring legends right would push x=0 out into the left margin
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "xanchor": "left"},
        hoverlabel={"font": {"family": display()["font_family"]}},
    )
    fig.update_xaxes(gridcolor="#e6e6e6", zerolinecolor="#999")
    fig.update_yaxes(gridcolor="#e6e6e6", zerolinecolor="#999", automargin=True)
    return check_traces(fig)


def hbar(labels, values, *, colors=None, text=None, title=None, xtitle=None, pct=True, height=None) -> go.Figure:
    """Horizontal bars, first label on top; values are shares (0–1) when ``pct``."""
    labels = list(labels)
    values = list(values)
    fig = go.Figure(
        go.Bar(
            y=labels[::-1],
            x=values[::-1],
            orientation="h",
            marker={"color": (list(colors)[::-1] if colors is not None else "#1f4e79")},
            text=(list(text)[::-1] if text is not None else None),
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>" if pct else "%{y}: %{x:,}<extra></extra>",
        )
    )
    if pct:
        fig.update_xaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_xaxes(title=xtitle)
    # labels are measured before the web font loads: a little slack keeps Thai labels unclipped
    fig.update_yaxes(ticksuffix="   ")
    return style(fig, title, height=height or max(260, 34 * len(labels) + 90), legend=False)


def grouped_bars(frame: pd.DataFrame, *, x: str, y: str, series: str, colors: dict | None = None, title=None, pct=True, order=None) -> go.Figure:
    """Vertical bars grouped by ``x`` with one colour per ``series`` value."""
    fig = go.Figure()
    names = order or list(dict.fromkeys(frame[series]))
    for name in names:
        part = frame[frame[series] == name]
        fig.add_trace(
            go.Bar(
                x=part[x], y=part[y], name=str(name),
                marker={"color": (colors or {}).get(name)},
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>" if pct else None,
            )
        )
    fig.update_layout(barmode="group")
    if pct:
        fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return style(fig, title)


def pie(labels, values, *, title=None, colors=None) -> go.Figure:
    fig = go.Figure(go.Pie(labels=list(labels), values=list(values), hole=0.45, sort=False,
                           marker={"colors": list(colors) if colors is not None else None}, textinfo="label+percent"))
    return style(fig, title, legend=False)


def line(frame: pd.DataFrame, *, x: str, y: str, series: str | None = None, title=None, pct=False) -> go.Figure:
    fig = go.Figure()
    groups = frame.groupby(series, sort=False) if series else [(None, frame)]
    for name, part in groups:
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers", name=str(name) if name is not None else None))
    if pct:
        fig.update_yaxes(tickformat=".0%")
    return style(fig, title, legend=series is not None)
