"""The report's figures as inline SVG: one style, deterministic bytes (fixed hash salt, no date).

matplotlib is imported here only, and only when a figure is drawn; each figure is a
``matplotlib.figure.Figure`` on the SVG canvas (no pyplot, no global backend state).
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import numpy as np

# Okabe & Ito's colour-blind-safe palette
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
ARM_COLOURS = {"control": OKABE_ITO["blue"], "experimental": OKABE_ITO["vermillion"]}
H_COLOURS = {False: OKABE_ITO["green"], True: OKABE_ITO["black"]}  # H1, H0
STAGE_COLOURS = [OKABE_ITO["sky"], OKABE_ITO["green"], OKABE_ITO["orange"], OKABE_ITO["purple"]]

STYLE = {
    "svg.hashsalt": "simtrial-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "path.simplify": True,
}


def _new(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasSVG(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _svg(fig, key: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML declaration and DOCTYPE (an external DTD reference)
    # ids unique across the page's several inline SVGs
    text = re.sub(r'id="', f'id="{key}-', text)
    text = re.sub(r'url\(#', f'url(#{key}-', text)
    text = re.sub(r'href="#', f'href="#{key}-', text)
    text = re.sub(r'<svg ', f'<svg role="img" aria-label="{key}" class="figure" ', text, count=1)
    return text


def _render(key: str, draw, *args) -> str:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig = draw(*args)
        return _svg(fig, key)


# --- calibration ------------------------------------------------------------------


def _draw_calibration(data: dict[str, Any]):
    panels = data["panels"]
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = _new(3.6 * ncols + 0.4, 2.9 * nrows + 0.5, nrows, ncols, sharey=True)
    for i, panel in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        for c in panel["curves"]:
            colour = ARM_COLOURS[c["arm"]]
            ax.plot(c["model_t"], c["model_s"], color=colour, lw=1.8, label=f"{c['arm']}: model")
            ax.step(c["km_t"], c["km_s"], where="post", color=colour, lw=1.0, ls=(0, (4, 2)), alpha=0.9,
                    label=f"{c['arm']}: Kaplan-Meier, simulated cohort (n={c['n']:,})")
            for p in c["reported"]:
                if p["kind"] == "median":
                    xerr = None
                    if p.get("lo") is not None and p.get("hi") is not None:
                        xerr = [[p["x"] - p["lo"]], [p["hi"] - p["x"]]]
                    ax.errorbar([p["x"]], [p["y"]], xerr=xerr, fmt="o", ms=6, mfc="white", mec=colour,
                                ecolor=colour, capsize=3, zorder=5, label=f"{c['arm']}: reported median")
                else:
                    yerr = None
                    if p.get("lo") is not None and p.get("hi") is not None:
                        yerr = [[p["y"] - p["lo"]], [p["hi"] - p["y"]]]
                    ax.errorbar([p["x"]], [p["y"]], yerr=yerr, fmt="s", ms=6, mfc="white", mec=colour,
                                ecolor=colour, capsize=3, zorder=5, label=f"{c['arm']}: reported landmark rate")
        ax.set_title(panel["category"])
        ax.set_xlim(0, data["t_max"])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("months since randomisation")
        if i % ncols == 0:
            ax.set_ylabel("event-free probability S(t)")
    for j in range(len(panels), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    handles, labels = {}, []
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncols=2)
    return fig


def _draw_calibration_binary(data: dict[str, Any]):
    rows = data["rows"]
    fig, axes = _new(7.5, 0.55 * len(rows) + 1.6)
    ax = axes[0][0]
    ys = list(range(len(rows)))[::-1]
    seen = set()

    def lab(x):
        if x in seen:
            return None
        seen.add(x)
        return x

    for y, r in zip(ys, rows, strict=True):
        colour = ARM_COLOURS[r["arm"]]
        ax.plot([r["probability"]], [y], "o", color=colour, ms=7, label=lab("model probability"))
        ax.plot([r["simulated"]], [y - 0.18], "x", color=colour, ms=7, label=lab(f"simulated cohort (n={data['n_patients']:,})"))
        for p in r["reported"]:
            xerr = None
            if p.get("lo") is not None and p.get("hi") is not None:
                xerr = [[p["value"] - p["lo"]], [p["hi"] - p["value"]]]
            ax.errorbar([p["value"]], [y + 0.18], xerr=xerr, fmt="s", mfc="white", mec=colour, ecolor=colour,
                        capsize=3, label=lab("reported, 95% CI"))
    ax.set_yticks(ys, [f"{r['arm']}, {r['category']}" for r in rows])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("response probability")
    fig.legend(loc="outside lower center", ncols=3)
    return fig


def calibration_figure(data: dict[str, Any]) -> str:
    if data["kind"] == "binary":
        return _render("fig-calibration", _draw_calibration_binary, data)
    return _render("fig-calibration", _draw_calibration, data)


# --- operating characteristics -----------------------------------------------------


def _draw_distributions(data: dict[str, Any]):
    blocks = [b for b in data["blocks"] if b.get("duration_hist") or b.get("hr_hist")]
    has_d = any(b.get("duration_hist") for b in blocks)
    has_h = any(b.get("hr_hist") for b in blocks)
    ncols = int(has_d) + int(has_h)
    fig, axes = _new(4.4 * ncols + 0.3, 3.5, 1, ncols)
    col = 0
    for key, xlabel in (("duration_hist", "study duration (months from first patient in)"),
                        ("hr_hist", "estimated hazard ratio (experimental / control), log scale")):
        if not any(b.get(key) for b in blocks):
            continue
        ax = axes[0][col]
        col += 1
        for b in blocks:
            h = b.get(key)
            if not h:
                continue
            edges = h["edges"]
            width = edges[1] - edges[0]
            dens = [c / (h["n"] * width) for c in h["counts"]]
            xs = [math.exp(e) for e in edges] if key == "hr_hist" else edges
            name = "H0 (null)" if b["null"] else "H1 (design alternative)"
            ax.stairs(dens, xs, color=H_COLOURS[b["null"]], lw=1.4, fill=False,
                      label=f"{name}, {h['n']:,} trials")
        if key == "hr_hist":
            ax.set_xscale("log")
            from matplotlib.ticker import FuncFormatter, LogLocator

            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0)))
            ax.xaxis.set_minor_locator(LogLocator(base=10, subs=()))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.axvline(1.0, color="#777777", lw=0.8, ls=":", label="HR 1")
            if data.get("ni_margin"):
                ax.axvline(data["ni_margin"], color=OKABE_ITO["purple"], lw=1.0, ls="--",
                           label=f"NI margin {data['ni_margin']:g}")
            ax.set_ylabel("density (per unit of log HR)")
        else:
            ax.set_ylabel("density (per month)")
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=7)
    return fig


def distributions_figure(data: dict[str, Any]) -> str | None:
    if not any(b.get("duration_hist") or b.get("hr_hist") for b in data["blocks"]):
        return None
    return _render("fig-distributions", _draw_distributions, data)


# --- group-sequential -------------------------------------------------------------


def _draw_sequential(data: dict[str, Any]):
    rows = data["rows"]
    fig, axes = _new(8.8, 4.2, 1, 2)
    axz, axh = axes[0]
    x = [r["information_fraction"] for r in rows]
    eff = [(r["information_fraction"], r["z_efficacy"]) for r in rows if r["z_efficacy"] is not None]
    fut = [(r["information_fraction"], r["z_futility"]) for r in rows if r["z_futility"] is not None]
    offsets = {False: -0.012, True: 0.012}
    for z in data.get("z_at_stop", []):
        colour = H_COLOURS[z["null"]]
        name = "H0" if z["null"] else "H1"
        first = True
        for xi, q in zip(x, z["per_look"], strict=True):
            if q is None:
                continue
            xx = xi + offsets[z["null"]]
            axz.vlines(xx, q["q5"], q["q95"], color=colour, lw=1.0, alpha=0.8)
            axz.vlines(xx, q["q25"], q["q75"], color=colour, lw=4.0, alpha=0.5,
                       label=(f"simulated Z paths, {name}: every trial at every look (5-25-50-75-95%)"
                              if z.get("paths") else f"simulated Z at the deciding look, {name} (5-25-50-75-95%)")
                       if first else None)
            axz.plot([xx], [q["q50"]], "_", color=colour, ms=9)
            first = False
    if eff:
        axz.plot(*zip(*eff, strict=True), "o-", color=OKABE_ITO["blue"], label="efficacy bound (reject H0 above)")
    if fut:
        axz.plot(*zip(*fut, strict=True), "v--", color=OKABE_ITO["orange"], label="futility bound (stop below)")
    axz.set_xlabel("information fraction (share of the planned events)")
    axz.set_ylabel("Z (efficacy scale)")
    axz.set_xlim(0, 1.05)
    axz.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=1, fontsize=7)
    heff = [(r["events"], r["hr_efficacy"]) for r in rows if r["hr_efficacy"] is not None]
    hfut = [(r["events"], r["hr_futility"]) for r in rows if r["hr_futility"] is not None]
    if heff:
        axh.plot(*zip(*heff, strict=True), "o-", color=OKABE_ITO["blue"], label="HR at the efficacy bound")
    if hfut:
        axh.plot(*zip(*hfut, strict=True), "v--", color=OKABE_ITO["orange"], label="HR at the futility bound")
    margin = data.get("ni_margin") or 1.0
    axh.axhline(margin, color=OKABE_ITO["purple"], lw=1.0, ls=":",
                label=f"NI margin {margin:g}" if margin != 1.0 else "HR 1")
    axh.set_xlabel("events at the look")
    axh.set_ylabel("estimated hazard ratio")
    axh.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=1, fontsize=7)
    return fig


def sequential_figure(data: dict[str, Any]) -> str:
    return _render("fig-sequential", _draw_sequential, data)


# --- sample size --------------------------------------------------------------------


def _draw_sample_size(data: dict[str, Any]):
    key = data["solve_for"]
    fig, axes = _new(7.6, 3.6)
    ax = axes[0][0]
    stages = []
    for p in data["curve"]:
        if p["stage"] not in stages:
            stages.append(p["stage"])
    for i, st in enumerate(stages):
        pts = [p for p in data["curve"] if p["stage"] == st]
        colour = STAGE_COLOURS[i % len(STAGE_COLOURS)]
        ax.errorbar([p[key] for p in pts], [p["power"] for p in pts],
                    yerr=[1.959963984540054 * (p.get("mc_se") or 0.0) for p in pts], fmt="o", ms=4, color=colour,
                    capsize=2, label=f"{st} stage ({pts[0].get('n_sims') or '-'} trials per point, ±1.96 MC SE)")
    if data.get("fit"):
        ax.plot(data["fit"]["x"], data["fit"]["power"], color=OKABE_ITO["black"], lw=1.2,
                label=f"probit fit on sqrt({key}) over the {data['fit']['stage']} stage")
    ax.axhline(data["target_power"], color="#777777", lw=0.8, ls=":", label=f"target power {data['target_power']:g}")
    if data.get("answer") is not None:
        ax.axvline(data["answer"], color=OKABE_ITO["vermillion"], lw=1.2, label=f"answer {data['answer']}")
        if data.get("uncertainty"):
            ax.axvspan(data["answer"] - data["uncertainty"], data["answer"] + data["uncertainty"],
                       color=OKABE_ITO["vermillion"], alpha=0.12, lw=0, label="answer ± MC uncertainty (95%)")
    if data.get("analytic_answer") is not None:
        ax.axvline(data["analytic_answer"], color=OKABE_ITO["blue"], lw=1.0, ls="--",
                   label=f"analytic (Schoenfeld) {data['analytic_answer']:.0f}")
    ax.set_xlabel("patients (N)" if key == "n_patients" else "events at the final analysis")
    ax.set_ylabel("power")
    fig.legend(loc="outside right upper", fontsize=7)
    return fig


def sample_size_figure(data: dict[str, Any]) -> str | None:
    if not data.get("curve"):
        return None
    return _render("fig-sample-size", _draw_sample_size, data)


# --- assurance -----------------------------------------------------------------------


def _draw_assurance(data: dict[str, Any]):
    panels = data["drawn"][:4]
    fig, axes = _new(3.0 * len(panels) + 0.6, 2.8, ncols=len(panels))
    for ax, p in zip(axes[0], panels, strict=False):
        edges = np.asarray(p["edges"])
        width = np.diff(edges)
        x = edges[:-1]
        ax.bar(x, p["success"], width=width, align="edge", color=OKABE_ITO["blue"], alpha=0.65, label="successful trials")
        ax.bar(x, p["failure"], width=width, align="edge", color=OKABE_ITO["orange"], alpha=0.65, label="failed trials")
        name = p["name"]
        if p["log_scale"]:
            ticks = [t for t in (0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
                     if edges[0] <= np.log(t) <= edges[-1]]
            ax.set_xticks(np.log(ticks), [f"{t:g}" for t in ticks])
            ax.set_xlabel(f"true {name.replace('_', ' ')} (log scale)")
        else:
            ax.set_xlabel(name.replace("_", " ").replace("months", "(months)"))
        ax.set_ylabel("simulated trials")
    axes[0][0].legend(loc="upper left")
    return fig


def assurance_figure(data: dict[str, Any]) -> str | None:
    if not data.get("drawn"):
        return None
    return _render("fig-assurance", _draw_assurance, data)


# --- sensitivity sweep ---------------------------------------------------------------


def _axis_label(path: str) -> str:
    """The field path as the user wrote it in --vary (what was varied, exactly)."""
    return path


def _draw_sweep_line(data: dict[str, Any]):
    x_name = data["varied"][0]
    label = data["label"]
    rows = sorted(data["rows"], key=lambda r: r[x_name])
    x = [r[x_name] for r in rows]
    fig, axes = _new(6.4, 3.4)
    ax = axes[0][0]
    ax.errorbar(x, [r[label] for r in rows], yerr=[1.959963984540054 * r[f"{label}_mc_se"] for r in rows],
                fmt="o-", ms=4, capsize=2, color=OKABE_ITO["blue"],
                label=("type I error" if data["null"] else "power") + " (±1.96 MC SE)")
    if any("assurance" in r for r in rows):
        ax.errorbar(x, [r.get("assurance") for r in rows],
                    yerr=[1.959963984540054 * (r.get("assurance_mc_se") or 0.0) for r in rows],
                    fmt="s--", ms=4, capsize=2, color=OKABE_ITO["vermillion"], label="assurance (±1.96 MC SE)")
    if data["null"] and data.get("worst_case") and data["worst_case"].get("alpha") is not None:
        ax.axhline(data["worst_case"]["alpha"], color="#777777", lw=0.8, ls=":", label="alpha")
    ax.set_xlabel(_axis_label(x_name))
    ax.set_ylabel("type I error" if data["null"] else "probability of success")
    ax.legend(loc="best")
    return fig


def _draw_sweep_heatmap(data: dict[str, Any]):
    a, b = data["varied"]
    label = data["label"]
    xs = sorted({r[a] for r in data["rows"]})
    ys = sorted({r[b] for r in data["rows"]})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in data["rows"]:
        grid[ys.index(r[b]), xs.index(r[a])] = r[label]
    fig, axes = _new(6.4, 3.8)
    ax = axes[0][0]
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="cividis", vmin=0.0,
                      vmax=max(1e-9, float(np.nanmax(grid))) if data["null"] else 1.0)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.grid(False)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                light = grid[i, j] < 0.5 * (image.norm.vmax or 1.0)
                ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=8,
                        color="white" if light else "black")
    ax.set_xlabel(_axis_label(a))
    ax.set_ylabel(_axis_label(b))
    fig.colorbar(image, ax=ax, label="type I error" if data["null"] else "power")
    return fig


def sweep_figure(data: dict[str, Any]) -> str | None:
    if data.get("plot") == "line":
        return _render("fig-sweep", _draw_sweep_line, data)
    if data.get("plot") == "heatmap":
        return _render("fig-sweep", _draw_sweep_heatmap, data)
    return None


#: section name -> [(figure id, function of the section's data -> SVG or None)]
FIGURES = {
    "calibration": [("fig-calibration", calibration_figure)],
    "operating": [("fig-distributions", distributions_figure)],
    "assurance": [("fig-assurance", assurance_figure)],
    "sweep": [("fig-sweep", sweep_figure)],
    "sequential": [("fig-sequential", sequential_figure)],
    "sample_size": [("fig-sample-size", sample_size_figure)],
}


def draw_all(report) -> dict[str, str]:
    """Every figure of the report: figure id -> inline SVG."""
    out = {}
    for section in report.sections:
        for key, fn in FIGURES.get(section.name, []):
            svg = fn(section.data)
            if svg is not None:
                out[key] = svg
    return out
