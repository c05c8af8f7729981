"""PNG copies of figure specs, drawn with matplotlib (Agg), no plotly needed.

plotly exports images only through kaleido (and a Chrome). This renderer reads the
plotly JSON spec itself and knows what the study figures use: scatter (lines,
markers, error bars), bar, box, violin and heatmap traces, subplot domains, axis
titles, log and category axes, hidden axes, y axes linked with `matches`, the figure
title, horizontal line shapes and paper-referenced annotations (subplot titles);
and for the explain figures: scattergl, markers with a colour per point, a symbol
or text labels, heatmaps at data coordinates, rgb()/rgba() colours.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from engine.atomic import atomic_write

# plotly's default colour sequence (template "plotly"), used when a trace sets none.
PALETTE = (
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
)


def _suffix(ref: str | None) -> str:
    """ "x3" -> "3"; "x", "y" or None -> "" (the first subplot's axes)."""
    return "" if not ref or ref in ("x", "y") else ref[1:]


def _text(title) -> str | None:
    """A title's text: plotly accepts {"text": ...} or a plain string."""
    return title.get("text") if isinstance(title, dict) else title


def _strip_html(text: str) -> str:
    return re.sub(r"<[^>]+>", " ", text.replace("<br>", "\n")).strip()


# plotly's named colorscales that the figures use, as plotly defines them (its
# "gray" is cmocean's, not a linear ramp).
NAMED_COLORSCALES = {
    "gray": [
        [i / 11, f"rgb({r}, {g}, {b})"]
        for i, (r, g, b) in enumerate(
            (
                (0, 0, 0),
                (16, 16, 16),
                (38, 38, 38),
                (59, 59, 59),
                (81, 80, 80),
                (102, 101, 101),
                (124, 123, 122),
                (146, 146, 145),
                (171, 171, 170),
                (197, 197, 195),
                (224, 224, 223),
                (254, 254, 253),
            )
        )
    ]
}


def _colour(c):
    """A matplotlib colour from a plotly one ("rgb(r, g, b)", "rgba(r, g, b, a)",
    a name or hex)."""
    if isinstance(c, str) and c.strip().startswith("rgb"):
        vals = [float(v) for v in c[c.index("(") + 1 : c.index(")")].split(",")]
        rgb = tuple(v / 255.0 for v in vals[:3])
        return (*rgb, vals[3]) if len(vals) > 3 else rgb
    return c


_SYMBOLS = {"star": "*", "circle": "o", "square": "s", "diamond": "D", "x": "x"}


def _colormap(colorscale):
    """A matplotlib colormap from a plotly colorscale: a name ("gray") or a list of
    (position, colour) pairs."""
    import matplotlib
    from matplotlib.colors import LinearSegmentedColormap, to_rgb

    if not colorscale:
        return "viridis"
    if isinstance(colorscale, str):
        if colorscale in matplotlib.colormaps:  # "RdBu", "Viridis" is plotly's
            return colorscale
        name = colorscale.lower()
        if name not in NAMED_COLORSCALES:
            return name if name in matplotlib.colormaps else "viridis"
        colorscale = NAMED_COLORSCALES[name]
    stops = []
    for pos, col in colorscale:
        col = str(col).strip()
        if col.startswith("rgb"):
            vals = [
                float(v)
                for v in col[col.index("(") + 1 : col.index(")")].split(",")[:3]
            ]
            rgb = tuple(v / 255.0 for v in vals)
        else:
            rgb = to_rgb(col)
        stops.append((float(pos), rgb))
    return LinearSegmentedColormap.from_list("plotly", stops)


def _numeric(values) -> bool:
    if values is None:
        return False
    arr = np.asarray(values)
    return arr.ndim == 1 and arr.size > 0 and arr.dtype.kind in "iuf"


def _styled_markers(tr: dict) -> bool:
    """Markers drawn one by one (numeric axes): a colour per point, a symbol, or
    text labels."""
    marker = tr.get("marker") or {}
    mode = tr.get("mode") or "lines+markers"
    numeric = _numeric(tr.get("x")) and _numeric(tr.get("y"))
    return (
        numeric
        and "lines" not in mode
        and (
            isinstance(marker.get("color"), list | tuple)
            or marker.get("symbol") is not None
            or "text" in mode
        )
    )


def _scatter_points(ax, tr: dict, color, label) -> None:
    """A markers(+text) trace: per-point colours (names or numbers on the trace's
    colorscale), plotly's symbol and size, an edge line and the point texts."""
    marker = tr.get("marker") or {}
    x = np.asarray(tr["x"], np.float64)
    y = np.asarray(tr["y"], np.float64)
    mc = marker.get("color")
    kw: dict = {}
    if isinstance(mc, list | tuple) and len(mc) == len(x):
        if _numeric(mc):
            kw = {
                "c": np.asarray(mc, float),
                "cmap": _colormap(marker.get("colorscale")),
            }
        else:
            kw = {"c": [_colour(c) for c in mc]}
    else:
        kw = {"color": color}
    edge = (marker.get("line") or {}).get("color")
    size = float(marker.get("size") or 6)
    ax.scatter(
        x,
        y,
        s=size**2 * 0.5,
        marker=_SYMBOLS.get(marker.get("symbol"), "o"),
        edgecolors=_colour(edge) if edge else "none",
        linewidths=(marker.get("line") or {}).get("width", 0.8) if edge else 0,
        label=label,
        zorder=3,
        **kw,
    )
    for xv, yv, t in zip(x, y, tr.get("text") or (), strict=False):
        ax.annotate(
            str(t), (xv, yv), xytext=(5, 4), textcoords="offset points", fontsize=8
        )


def write_png(spec: dict, path: str | os.PathLike, dpi: int = 100) -> None:
    """Draw a figure spec ({"data": [...], "layout": {...}}) and save it as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data: list[dict] = list(spec.get("data") or [])
    lay: dict = spec.get("layout") or {}
    width = lay.get("width") or 1000
    height = lay.get("height") or 500
    mfig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(mfig)
    left, right, bottom, top = 0.07, 0.99, 0.12, 0.86
    axes: dict[tuple[str, str], Any] = {}
    cats: dict[tuple[str, str], list] = {}
    legend_axes = set()

    def axis(which: str, suffix: str) -> dict:
        return lay.get(f"{which}axis{suffix}") or {}

    def key_of(tr: dict) -> tuple[str, str]:
        return (_suffix(tr.get("xaxis")), _suffix(tr.get("yaxis")))

    def get_ax(xref, yref):
        key = (_suffix(xref), _suffix(yref))
        if key in axes:
            return axes[key], key
        xa, ya = axis("x", key[0]), axis("y", key[1])
        x0, x1 = xa.get("domain") or (0, 1)
        y0, y1 = ya.get("domain") or (0, 1)
        w, h = right - left, top - bottom
        rect = [
            left + x0 * w,
            bottom + y0 * h,
            (x1 - x0) * w * 0.94,
            (y1 - y0) * h * 0.9,
        ]
        ax = mfig.add_axes(rect)
        if _text(xa.get("title")):
            ax.set_xlabel(_text(xa["title"]), fontsize=9)
        if _text(ya.get("title")):
            ax.set_ylabel(_text(ya["title"]), fontsize=9)
        if xa.get("type") == "log":
            ax.set_xscale("log", base=2 if xa.get("dtick") == math.log10(2) else 10)
        if ya.get("type") == "log":
            ax.set_yscale("log")
        if xa.get("visible") is False or xa.get("showticklabels") is False:
            ax.set_xticks([])
        if ya.get("visible") is False or ya.get("showticklabels") is False:
            ax.set_yticks([])
        ax.tick_params(labelsize=8)
        axes[key] = ax
        cats[key] = list(xa.get("categoryarray") or [])
        return ax, key

    def positions(key, xs):
        pos = []
        for x in xs:
            if x not in cats[key]:
                cats[key].append(x)
            pos.append(cats[key].index(x))
        return pos

    def error_array(tr: dict):
        arr = (tr.get("error_y") or {}).get("array")
        return None if arr is None else np.asarray(arr, np.float64)

    for i, tr in enumerate(data):
        ax, key = get_ax(tr.get("xaxis"), tr.get("yaxis"))
        marker = tr.get("marker") or {}
        line = tr.get("line") or {}
        color = marker.get("color") if isinstance(marker.get("color"), str) else None
        if color is None and isinstance(line.get("color"), str):
            color = line["color"]
        color = color or PALETTE[i % len(PALETTE)]
        name = tr.get("name")
        label = name if tr.get("showlegend") is not False and name else None
        kind = tr.get("type", "scatter")
        if kind == "scattergl":  # WebGL scatter: the same drawing here
            kind = "scatter"
        color = _colour(color)
        if kind == "scatter" and _styled_markers(tr):
            _scatter_points(ax, tr, color, label)
        elif kind == "scatter":
            y = np.asarray(tr["y"], np.float64)
            x = np.asarray(tr["x"] if tr.get("x") is not None else range(len(y)))
            mode = tr.get("mode") or "lines+markers"
            if x.dtype.kind in "OUS":
                x = np.asarray(positions(key, list(x)))
            dashed = line.get("dash") in ("dash", "dot", "dashdot")
            ls = ("--" if dashed else "-") if "lines" in mode else "None"
            mk = "o" if "markers" in mode else None
            err = error_array(tr)
            if err is not None:
                ax.errorbar(
                    x,
                    y,
                    yerr=err,
                    color=color,
                    label=label,
                    marker=mk,
                    ms=4,
                    capsize=3,
                    linestyle=ls,
                )
            else:
                ax.plot(x, y, color=color, label=label, marker=mk, ms=4, linestyle=ls)
        elif kind == "bar":
            x = list(tr["x"])
            pos = positions(key, x)
            # Bars of several traces on one axes stand side by side ("group").
            bars = [t.get("type") == "bar" and key_of(t) == key for t in data]
            bw = 0.8 / max(sum(bars), 1)
            j = sum(bars[:i])
            mc = marker.get("color")
            bar_color = (
                list(mc)
                if isinstance(mc, list | tuple) and len(mc) == len(x)
                else color
            )
            ax.bar(
                np.asarray(pos) - 0.4 + bw * (j + 0.5),
                np.asarray(tr["y"], float),
                width=bw,
                yerr=error_array(tr),
                color=bar_color,
                label=label,
                capsize=3,
            )
        elif kind in ("box", "violin"):
            y = np.asarray(tr["y"], np.float64)
            xs = list(tr["x"]) if tr.get("x") is not None else [name or str(i)] * len(y)
            groups: dict = {}
            for xv, yv in zip(xs, y, strict=True):
                groups.setdefault(xv, []).append(yv)
            pos = positions(key, list(groups))
            values = [np.asarray(v) for v in groups.values()]
            if kind == "box":
                bp = ax.boxplot(
                    values,
                    positions=pos,
                    widths=0.5,
                    patch_artist=True,
                    showfliers=False,
                )
                for b in bp["boxes"]:
                    b.set_facecolor(color)
                    b.set_alpha(0.4)
                jitter = np.random.default_rng(i)
                for p, d in zip(pos, values, strict=True):
                    px = p + jitter.uniform(-0.12, 0.12, len(d))
                    ax.plot(px, d, "o", color=color, ms=3, alpha=0.8)
            else:
                ok = [k for k, d in enumerate(values) if np.ptp(d) > 0]
                if ok:
                    vp = ax.violinplot(
                        [values[k] for k in ok],
                        positions=[pos[k] for k in ok],
                        showmedians=True,
                    )
                    for b in vp["bodies"]:
                        b.set_facecolor(color)
                        b.set_alpha(0.5)
                for p, d in zip(pos, values, strict=True):
                    ax.plot([p] * len(d), d, ".", color=color, ms=3)
            if label:
                ax.plot([], [], "s", color=color, label=label)
        elif kind == "heatmap":
            z = np.asarray(tr["z"], np.float64)
            kw = {}
            if tr.get("zmin") is not None and tr.get("zmax") is not None:
                kw = {"vmin": tr["zmin"], "vmax": tr["zmax"]}
            if _numeric(tr.get("x")) and _numeric(tr.get("y")):
                # Cells at data coordinates, so traces drawn on top line up.
                ax.pcolormesh(
                    np.asarray(tr["x"], float),
                    np.asarray(tr["y"], float),
                    z,
                    cmap=_colormap(tr.get("colorscale")),
                    shading="nearest",
                    alpha=tr.get("opacity"),
                    **kw,
                )
                continue
            reversed_y = axis("y", key[1]).get("autorange") == "reversed"
            ax.imshow(
                z,
                cmap=_colormap(tr.get("colorscale")),
                aspect="auto",
                origin="upper" if reversed_y else "lower",
                **kw,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            continue
        if label and kind != "heatmap":
            legend_axes.add(key)
    # Axes that plotly links (`matches`) share their limits here.
    linked: dict[str, list] = {}
    for (_, ys), ax in axes.items():
        matches = axis("y", ys).get("matches")
        linked.setdefault(_suffix(matches) if matches else ys, []).append(ax)
    for group in linked.values():
        if len(group) > 1:
            lims = [a.get_ylim() for a in group]
            lo, hi = min(v[0] for v in lims), max(v[1] for v in lims)
            for a in group:
                a.set_ylim(lo, hi)
    for key, ax in axes.items():
        if cats[key]:
            ax.set_xticks(range(len(cats[key])))
            labels = [str(c) for c in cats[key]]
            crowded = len(labels) > 6 or sum(map(len, labels)) > 48
            ax.set_xticklabels(
                labels,
                fontsize=8,
                rotation=25 if crowded else 0,
                ha="right" if crowded else "center",
            )
        if key in legend_axes:
            ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    for shape in lay.get("shapes") or ():
        if shape.get("type") == "line" and shape.get("y0") == shape.get("y1"):
            ax, _ = get_ax(shape.get("xref"), shape.get("yref"))
            color = (shape.get("line") or {}).get("color") or "gray"
            ax.axhline(shape["y0"], color=color, ls="--", lw=1)
    for ann in lay.get("annotations") or ():
        if (
            ann.get("xref") == "paper"
            and ann.get("yref") == "paper"
            and ann.get("text")
        ):
            mfig.text(
                left + ann["x"] * (right - left),
                bottom + ann["y"] * (top - bottom) + 0.01,
                _strip_html(ann["text"]),
                ha="center",
                va="bottom",
                fontsize=9,
            )
    if _text(lay.get("title")):
        mfig.suptitle(_strip_html(_text(lay["title"])), fontsize=11)
    with atomic_write(path) as f:
        mfig.savefig(f, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.15)
