"""Explain figures (`engine.explain` results, as their JSON dict): pair importance,
label sensitivity, the policy map and coverage, as plain plotly specs.

`hades explain --out` saves them (`save_figure`: JSON + PNG); the Dataset page's
Explain tab shows the same specs with plotly.
"""

from __future__ import annotations

import numpy as np

PALETTE = (
    "#2f6fdb", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4", "#0b7285", "#f08c00",
    "#495057",
)  # fmt: skip
FULL = "#1b1f29"
VISITED = "#9ecae1"
STAR = "#d62728"


def _title(res: dict, what: str) -> str:
    kind = "fixed init (HaDES-F)" if res.get("fixed_init") else "fresh inits"
    return f"{res['env']} N = {res['size']}: {what} ({res['inits']} {kind})"


def _layout(title: str, **kw) -> dict:
    out = {
        "title": {"text": title, "font": {"size": 14}},
        "template": "plotly_white",
        "hovermode": "closest",
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
    }
    out.update(kw)
    return out


def _hline(value: float, n: int) -> dict:
    """A dashed horizontal line at `value` (the reference) across `n` categories."""
    return {
        "type": "line",
        "xref": "x",
        "x0": -0.5,
        "x1": n - 0.5,
        "yref": "y",
        "y0": value,
        "y1": value,
        "line": {"color": FULL, "dash": "dash", "width": 1.5},
    }


def _pair_names(res: dict) -> list[str]:
    return [f"pair {p['index']}" for p in res["pairs"]]


def importance(res: dict) -> dict:
    """Bars: the mean return without pair i and with pair i alone, error bars the
    spread (std) over the inits; dashed line: the whole dataset."""
    names = _pair_names(res)
    data = []
    for k, (key, label) in enumerate(
        (("without", "without pair i"), ("alone", "pair i alone"))
    ):
        per = [np.asarray(p.get(f"{key}_per_init") or [], float) for p in res["pairs"]]
        data.append(
            {
                "type": "bar",
                "x": names,
                "y": [p[f"{key}_return"] for p in res["pairs"]],
                "name": label,
                "marker": {"color": PALETTE[k]},
                "error_y": {
                    "type": "data",
                    "array": [float(a.std()) if a.size else 0.0 for a in per],
                    "visible": True,
                },
                "customdata": [
                    f"{a.min():.1f} .. {a.max():.1f}" if a.size else "" for a in per
                ],
                "hovertemplate": "%{x}: %{y:.1f} (inits %{customdata})"
                "<extra>" + label + "</extra>",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            _title(
                res,
                f"pair importance (dashed: whole dataset {res['full_return']:.1f})",
            ),
            barmode="group",
            yaxis={"title": {"text": "mean return"}},
            shapes=[_hline(res["full_return"], len(names))],
            width=900,
            height=420,
        ),
    }


def labels(res: dict) -> dict:
    """Grouped bars: the mean return with each pair's label changed (discrete: to
    each other action, the bar's text naming it; continuous: scaled); dashed line:
    the labels as evolved."""
    names = _pair_names(res)
    changes = [list(p["label_sensitivity"].items()) for p in res["pairs"]]
    count = max((len(c) for c in changes), default=0)
    discrete = res.get("label_kind") != "continuous"
    data = []
    for k in range(count):
        got = [c[k] if k < len(c) else (None, None) for c in changes]
        if discrete:
            label = "to the other action" if count == 1 else f"to other action {k + 1}"
        else:
            label = f"label {got[0][0]}"
        data.append(
            {
                "type": "bar",
                "x": names,
                "y": [v for _, v in got],
                "text": [n or "" for n, _ in got] if discrete else None,
                "textposition": "inside" if discrete else None,
                "name": label,
                "marker": {"color": PALETTE[k % len(PALETTE)]},
            }
        )
    what = (
        "label sensitivity, label changed to another action"
        if discrete
        else "label sensitivity, label scaled"
    )
    return {
        "data": data,
        "layout": _layout(
            _title(res, what),
            barmode="group",
            yaxis={"title": {"text": "mean return"}},
            shapes=[_hline(res["full_return"], len(names))],
            width=900,
            height=400,
        ),
    }


def _stars(pm: dict, xy, names: list[str]) -> dict:
    """The synthetic states as stars filled with their label's colour."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    acts = pm.get("synthetic_action") or []
    if pm.get("discrete") and len(acts) == len(xy):
        colour = [PALETTE[int(a) % len(PALETTE)] for a in acts]
        hover = [f"pair {i}: label {names[int(a)]}" for i, a in enumerate(acts)]
    else:
        colour = "white"
        first = names[0] if names else "a0"
        hover = [f"pair {i}: label {first} {a:+.2f}" for i, a in enumerate(acts)]
    return {
        "type": "scatter",
        "x": xy[:, 0].tolist(),
        "y": xy[:, 1].tolist(),
        "mode": "markers+text",
        "text": [str(i) for i in range(len(xy))],
        "textposition": "top right",
        "hovertext": hover,
        "hoverinfo": "text",
        "name": "synthetic states",
        "marker": {
            "symbol": "star",
            "size": 18,
            "color": colour,
            "line": {"color": "black", "width": 1.2},
        },
    }


def _discrete_scale(k: int) -> list:
    scale = []
    for a in range(k):
        c = PALETTE[a % len(PALETTE)]
        scale += [[a / k, c], [(a + 1) / k, c]]
    return scale


def policy_map(res: dict) -> dict:
    """Classic control: the policy's action on a grid over two state dimensions
    (the others held), visited states faint, synthetic states as stars. MinAtar
    and Brax: the visited states (coverage projection) coloured by action."""
    pm, cov = res["policy_map"], res["coverage"]
    names = pm.get("action_names") or []
    data = []
    if pm.get("kind") == "grid":
        heat = {
            "type": "heatmap",
            "x": pm["x"],
            "y": pm["y"],
            "z": pm["z"],
            "opacity": 0.8,
            "name": pm["z_kind"],
        }
        if pm["discrete"]:
            k = max(2, len(names))
            heat.update(
                zmin=-0.5,
                zmax=k - 0.5,
                colorscale=_discrete_scale(k),
                colorbar={
                    "tickvals": list(range(len(names))),
                    "ticktext": names,
                    "title": {"text": "action"},
                },
            )
        else:
            heat.update(
                colorscale="RdBu", zmid=0.0, colorbar={"title": {"text": pm["z_kind"]}}
            )
        data.append(heat)
        vis = np.asarray(pm["visited"], float).reshape(-1, 2)
        data.append(
            {
                "type": "scattergl",
                "x": vis[:, 0].tolist(),
                "y": vis[:, 1].tolist(),
                "mode": "markers",
                "name": "visited states",
                "marker": {"color": "rgba(255,255,255,0.6)", "size": 3},
                "hoverinfo": "skip",
            }
        )
        data.append(_stars(pm, pm["synthetic"], names))
        xt = f"{pm['dim_names'][0]} (dim {pm['dims'][0]})"
        yt = f"{pm['dim_names'][1]} (dim {pm['dims'][1]})"
        what = f"policy map, others held at the {pm['hold_source']}"
    else:
        pts = np.asarray(cov["visited_2d"], float).reshape(-1, 2)
        if pm["discrete"]:
            act = np.asarray(pm["action"], int)
            for a, name in enumerate(names):
                sel = act == a
                data.append(
                    {
                        "type": "scattergl",
                        "x": pts[sel, 0].tolist(),
                        "y": pts[sel, 1].tolist(),
                        "mode": "markers",
                        "name": name,
                        "marker": {"color": PALETTE[a % len(PALETTE)], "size": 4},
                    }
                )
        else:
            val = np.asarray(pm["value"], float)[:, 0]
            data.append(
                {
                    "type": "scattergl",
                    "x": pts[:, 0].tolist(),
                    "y": pts[:, 1].tolist(),
                    "mode": "markers",
                    "name": f"action mean ({names[0] if names else 'a0'})",
                    "marker": {
                        "color": val.round(4).tolist(),
                        "colorscale": "RdBu",
                        "cmid": 0.0,
                        "size": 4,
                        "colorbar": {"title": {"text": "action mean"}},
                    },
                }
            )
        data.append(_stars(pm, cov["synthetic_2d"], names))
        ev = cov["explained_variance"]
        xt, yt = f"PC 1 ({100 * ev[0]:.0f}% of variance)", f"PC 2 ({100 * ev[1]:.0f}%)"
        what = "policy on the states it visits"
    return {
        "data": data,
        "layout": _layout(
            _title(res, what),
            xaxis={"title": {"text": xt}},
            yaxis={"title": {"text": yt}},
            width=720,
            height=560,
        ),
    }


def coverage(res: dict) -> dict:
    """Visited and synthetic states in one PCA projection; a dotted line joins
    each synthetic state to its nearest visited state (the label: its distance in
    normalised units)."""
    cov = res["coverage"]
    vis = np.asarray(cov["visited_2d"], float).reshape(-1, 2)
    syn = np.asarray(cov["synthetic_2d"], float).reshape(-1, 2)
    near = np.asarray(cov.get("nearest_2d") or [], float).reshape(-1, 2)
    dist = cov["nearest_distance"]
    data = [
        {
            "type": "scattergl",
            "x": vis[:, 0].tolist(),
            "y": vis[:, 1].tolist(),
            "mode": "markers",
            "name": "visited states",
            "marker": {"color": VISITED, "size": 4},
            "hoverinfo": "skip",
        }
    ]
    for i in range(min(len(syn), len(near))):
        data.append(
            {
                "type": "scatter",
                "x": [syn[i, 0], near[i, 0]],
                "y": [syn[i, 1], near[i, 1]],
                "mode": "lines",
                "line": {"color": STAR, "dash": "dot", "width": 1.2},
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
    data.append(
        {
            "type": "scatter",
            "x": syn[:, 0].tolist(),
            "y": syn[:, 1].tolist(),
            "mode": "markers+text",
            "text": [f"{i}: {d:.2f}" for i, d in enumerate(dist)],
            "textposition": "top right",
            "name": "synthetic states",
            "hovertext": [
                f"pair {i}: nearest visited state at distance {d:.3f}"
                for i, d in enumerate(dist)
            ],
            "hoverinfo": "text",
            "marker": {
                "symbol": "star",
                "size": 18,
                "color": STAR,
                "line": {"color": "black", "width": 1},
            },
        }
    )
    ev = cov["explained_variance"]
    title = _title(res, "coverage, synthetic and visited states (PCA)")
    title += f"<br>visited states lie {cov['typical_spacing']:.2f} apart"
    return {
        "data": data,
        "layout": _layout(
            title,
            xaxis={"title": {"text": f"PC 1 ({100 * ev[0]:.0f}% of variance)"}},
            yaxis={"title": {"text": f"PC 2 ({100 * ev[1]:.0f}%)"}},
            width=720,
            height=560,
            margin={"l": 60, "r": 20, "t": 80, "b": 50},
        ),
    }


FIGURES = {
    "importance": importance,
    "label_sensitivity": labels,
    "policy_map": policy_map,
    "coverage": coverage,
}
"""Name -> builder: the file names `hades explain --out` writes."""


def figures(res: dict) -> dict[str, dict]:
    """Every explain figure of `res`, by name."""
    return {name: fn(res) for name, fn in FIGURES.items()}
