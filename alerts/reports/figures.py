"""Trend charts drawn with matplotlib (Agg) and returned as base64 PNG for inline `<img>`.

Chinese labels need a CJK font; when none is installed (`fc-list :lang=zh` is empty) the
charts fall back to ASCII labels rather than drawing empty boxes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from riskwatch.alerts.reports.metrics import Trend
from riskwatch.contracts import Level

__all__ = ["LEVEL_HEX", "category_trend_png", "cjk_font", "level_trend_png", "png_base64", "pyplot"]

LEVEL_HEX = {Level.I: "#d7191c", Level.II: "#f28e2b", Level.III: "#e6c229", Level.IV: "#2b7bba"}
_CJK_FILE_HINTS = ("NotoSansCJK", "NotoSerifCJK", "SourceHanSans", "wqy-zenhei", "wqy-microhei")
_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Source Han Sans SC")


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), imported only when a chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font that can draw Chinese, or None.

    Matplotlib's font cache may predate fonts installed later (CI adds Noto CJK after the
    venv), so font files found on the system (fontconfig's list) are registered on demand.
    """
    pyplot()
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in known:
            return family
    files = [f for f in font_manager.findSystemFonts() if any(p in Path(f).name for p in _CJK_FILE_HINTS)]
    files.sort(key=lambda f: (next(i for i, p in enumerate(_CJK_FILE_HINTS) if p in Path(f).name), "Bold" in f, f))
    for path in files:
        try:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def _label(chinese: str, english: str) -> str:
    return f"{chinese} {english}" if cjk_font() else english


@contextmanager
def _figure() -> Iterator[tuple[Any, Any]]:
    """A figure and axes drawn, inside one rc context, with the CJK font when there is one."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    family = cjk_font()
    rc = {"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"] if family else ["DejaVu Sans"]}
    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(9.0, 3.2))
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def png_base64(fig: Any, dpi: int = 96) -> str:
    """The figure as base64 PNG for an inline `<img>`; call inside `_figure()` so its fonts apply."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _axes_text(ax: Any, trend: Trend, bucket_zh: str, bucket_en: str, title_zh: str, title_en: str) -> None:
    positions = range(len(trend.labels))
    ax.set_xticks(list(positions), trend.labels, rotation=90 if len(trend.labels) > 16 else 0, fontsize=8)
    ax.set_xlabel(_label(bucket_zh, bucket_en))
    ax.set_ylabel(_label("预警数", "warnings"))
    ax.set_title(_label(title_zh, title_en))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def level_trend_png(trend: Trend, bucket_zh: str, bucket_en: str) -> str:
    """Stacked bars of warnings per bucket by level, with the previous period's totals as a line."""
    with _figure() as (fig, ax):
        positions = list(range(len(trend.labels)))
        bottom = [0] * len(positions)
        for level in Level:
            counts = trend.by_level[level]
            label = _label(f"{level.value}级", f"level {level.value}")
            ax.bar(positions, counts, bottom=bottom, color=LEVEL_HEX[level], label=label)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        if trend.previous_total is not None:
            previous = list(trend.previous_total[: len(positions)])
            ax.plot(range(len(previous)), previous, color="#555", linestyle="--", marker=".", label=_label("上期", "previous"))
        _axes_text(ax, trend, bucket_zh, bucket_en, "预警数量趋势（按等级）", "warnings by level")
        return png_base64(fig)


def category_trend_png(trend: Trend, bucket_zh: str, bucket_en: str) -> str:
    """One line per top category: warnings per bucket."""
    with _figure() as (fig, ax):
        positions = list(range(len(trend.labels)))
        for code, counts in trend.by_category.items():
            ax.plot(positions, counts, marker="o", markersize=3, label=_label(trend.category_names[code], code))
        _axes_text(ax, trend, bucket_zh, bucket_en, "主要类别趋势", "top categories")
        return png_base64(fig)
