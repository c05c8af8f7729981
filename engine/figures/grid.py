"""A grid of x-y subplots as a plain plotly figure spec, laid out as plotly's
`make_subplots` lays it out (same axis domains, names, anchors, shared y axes and
subplot-title annotations), without importing plotly.
"""

from __future__ import annotations

from typing import Any


def _merge(into: dict, props: dict) -> None:
    """Deep-merge `props` into `into` (nested dicts merge, other values replace)."""
    for k, v in props.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


class Subplots:
    """`rows` x `cols` subplots; `spec` is the figure ({"data", "layout"}).

    Subplot (row, col), counted from 1 at the top left, is number
    k = (row - 1) * cols + col: its axes are ``xaxis<k>``/``yaxis<k>`` in the layout
    (no number for k = 1) and its traces refer to ``x<k>``/``y<k>``.
    """

    def __init__(
        self,
        rows: int = 1,
        cols: int = 1,
        *,
        subplot_titles=(),
        column_widths=None,
        horizontal_spacing: float | None = None,
        vertical_spacing: float | None = None,
        shared_yaxes: bool = False,
    ):
        self.rows, self.cols = rows, cols
        titles = list(subplot_titles or ())
        if horizontal_spacing is None:
            horizontal_spacing = 0.2 / cols
        if vertical_spacing is None:
            vertical_spacing = (0.5 if titles else 0.3) / rows
        # Column widths and row heights as plotly computes them (the same float
        # operations, so the domains are equal to the last bit).
        free_w = 1.0 - horizontal_spacing * (cols - 1)
        if column_widths is None:
            widths = [free_w / cols] * cols
        else:
            total = float(sum(column_widths))
            widths = [free_w * (w / total) for w in column_widths]
        heights = [(1.0 - vertical_spacing * (rows - 1)) / rows] * rows
        layout: dict[str, Any] = {}
        annotations = []
        for r in range(rows):
            # plotly starts the grid at the bottom; row 1 is the top one.
            below = rows - 1 - r
            y0 = sum(heights[:below]) + below * vertical_spacing
            y_domain = [y0, y0 + heights[-1 - r]]
            for c in range(cols):
                x0 = sum(widths[:c]) + c * horizontal_spacing
                x_domain = [x0, x0 + widths[c]]
                k = self._index(r + 1, c + 1)
                s = "" if k == 1 else str(k)
                layout[f"xaxis{s}"] = {"anchor": f"y{s}", "domain": x_domain}
                layout[f"yaxis{s}"] = {"anchor": f"x{s}", "domain": y_domain}
                if shared_yaxes and c > 0:  # match the row's first y axis
                    first = self._suffix(r + 1, 1)
                    layout[f"yaxis{s}"].update(
                        matches=f"y{first}", showticklabels=False
                    )
                i = r * cols + c
                if i < len(titles) and titles[i]:
                    annotations.append(
                        {
                            "font": {"size": 16},
                            "showarrow": False,
                            "text": titles[i],
                            "x": sum(x_domain) / 2.0,
                            "xanchor": "center",
                            "xref": "paper",
                            "y": y_domain[1],
                            "yanchor": "bottom",
                            "yref": "paper",
                        }
                    )
        if annotations:
            layout["annotations"] = annotations
        self.spec: dict[str, Any] = {"data": [], "layout": layout}

    def _index(self, row: int, col: int) -> int:
        if not (1 <= row <= self.rows and 1 <= col <= self.cols):
            raise ValueError(
                f"subplot ({row}, {col}) is outside the {self.rows}x{self.cols} grid"
            )
        return (row - 1) * self.cols + col

    def _suffix(self, row: int, col: int) -> str:
        k = self._index(row, col)
        return "" if k == 1 else str(k)

    def add(self, trace: dict, row: int = 1, col: int = 1) -> None:
        """Append a trace (a plotly trace dict, with "type") to subplot (row, col)."""
        s = self._suffix(row, col)
        self.spec["data"].append({**trace, "xaxis": f"x{s}", "yaxis": f"y{s}"})

    def update_axes(
        self, which: str, row: int | None = None, col: int | None = None, **props
    ) -> None:
        """Merge `props` into the x or y axis of (row, col), or of every subplot."""
        if (row is None) != (col is None):
            raise ValueError("give both row and col, or neither (every subplot)")
        cells = (
            [(row, col)]
            if row is not None
            else [
                (r, c) for r in range(1, self.rows + 1) for c in range(1, self.cols + 1)
            ]
        )
        for r, c in cells:
            _merge(self.spec["layout"][f"{which}axis{self._suffix(r, c)}"], props)

    def update_layout(self, **props) -> None:
        _merge(self.spec["layout"], props)
