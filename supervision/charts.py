"""Bar charts as inline SVG, drawn on the server: no script, readable without one, printable.

``bar_chart`` computes the geometry; templates/admin/includes/bar_chart.html draws it.
"""

import math
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 220
MAX_BAR = 40  # a few days' bars stay bars, not blocks
TOP = 16  # room for the value of the highest bar
BOTTOM = 28  # room for the day labels
LEFT = 44  # room for the scale


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    text: str  # the value as shown, empty for no value
    show_label: bool

    @property
    def text_y(self) -> float:
        return round(self.y - 3, 1)


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    top_value: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM
    top: int = TOP
    scale_x: int = LEFT - 4
    top_label_y: int = TOP + 4
    day_label_y: float = HEIGHT - BOTTOM + 14


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def bar_chart(
    title: str,
    points: list[tuple[str, float | None]],
    *,
    unit: str = "",
    maximum: float | None = None,
    decimals: int = 0,
) -> Chart:
    """One bar per point (label, value); None draws no bar (no data that day)."""
    values = [v for _, v in points if v is not None]
    top = maximum if maximum is not None else _nice_ceiling(max(values, default=0))
    plot_width = WIDTH - LEFT - 8
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    bar_width = min(slot * 0.7, MAX_BAR)
    every = max(1, math.ceil(len(points) / 14))  # at most about 14 labels under the bars
    bars = []
    for i, (label, value) in enumerate(points):
        height = 0.0 if value is None else plot_height * min(value, top) / top
        bars.append(
            Bar(
                x=round(LEFT + i * slot + (slot - bar_width) / 2, 1),
                y=round(TOP + plot_height - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
                label=label,
                text="" if value is None else f"{value:.{decimals}f}",
                show_label=i % every == 0,
            )
        )
    return Chart(title=title, bars=bars, top_value=f"{top:g}", unit=unit)
