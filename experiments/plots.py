"""Figures drawn from the stored JSON results (so a figure can be redrawn without recomputing)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

STYLE = {
    "RNTK": dict(color="tab:red", lw=2.4, marker="o"),
    "MLP-NTK": dict(color="tab:blue", lw=1.5, marker="s"),
    "RBF": dict(color="tab:green", lw=1.5, marker="^"),
    "Polynomial": dict(color="tab:purple", lw=1.5, marker="D"),
    "PTS": dict(color="black", lw=1.5, ls="--", marker=None),
}
STYLE_RESTRICTED = dict(color="salmon", lw=1.5, ls="-.", marker="o", mfc="white")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def regression_figure(protocol: dict, title: str, path: Path, clean: bool = False) -> Path:
    """SNR against Tvar: medians with interquartile bands, one panel per padding of the fixed-length kernels."""
    plt = _plt()
    summary = protocol["summary_clean_target" if clean else "summary"]
    tvars = protocol["config"]["tvar"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.0), sharey=True)
    for ax, padding in zip(axes, ("pre", "post")):
        restricted = [m for m in protocol["methods"] if m.startswith("RNTK (")]
        for name in ("RNTK", *restricted, "MLP-NTK", "RBF", "Polynomial", "PTS"):
            key = name if name.startswith("RNTK") or name == "PTS" else f"{name} ({padding}-padded)"
            stats = summary[key]
            ts = [t for t in tvars if str(t) in stats]
            med = np.array([stats[str(t)]["median"] for t in ts])
            lo = np.array([stats[str(t)]["q25"] for t in ts])
            hi = np.array([stats[str(t)]["q75"] for t in ts])
            style = dict(STYLE.get(name, STYLE_RESTRICTED))
            label = name if name.startswith("RNTK") or name == "PTS" else f"{name}, zero-padded"
            if name == "PTS":
                label = "PTS (previous time step)"
            ax.plot(ts, med, label=label, markersize=4, **style)
            ax.fill_between(ts, lo, hi, color=style["color"], alpha=0.12, lw=0)
        where = "before the window (last steps aligned)" if padding == "pre" else "after the window (first steps aligned)"
        ax.set_title(f"zeros {where}", fontsize=10)
        ax.set_xlabel(r"$T_{\rm var}$ (window lengths vary in $[T_{\rm fixed}, T_{\rm fixed}+T_{\rm var}]$)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("prediction SNR (dB)" + (", noise-free target" if clean else ""))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    n = protocol["config"]["repetitions"]
    fig.suptitle(f"{title}: median over {n} draws, band = interquartile range")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def figure2(result: dict, path: Path) -> Path:
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    alpha = np.array(result["left"]["alpha"])
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown"]
    for colour, (width, values) in zip(colours, result["left"]["finite"].items()):
        left.plot(alpha, values, color=colour, lw=1.2, label=f"finite RNN, n = {width}")
    left.plot(alpha, result["left"]["exact"], color="black", lw=2.2, ls="--", label=r"RNTK (n = $\infty$)")
    left.set_xticks([0, math.pi / 2, math.pi, 3 * math.pi / 2, 2 * math.pi])
    left.set_xticklabels(["0", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$"])
    left.set_xlabel(r"$\alpha$")
    left.set_ylabel(r"$\hat\Theta(x, x')$")
    left.set_title(r"$x = (1, -1, 1)$, $x' = (\cos\alpha, \sin\alpha)$, weight-tied", fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)

    errs = result["right"]["relative_error"]
    for kind, colour, marker in (("tied", "tab:red", "o"), ("untied", "tab:blue", "s")):
        widths = np.array([float(w) for w in errs[kind]])
        vals = [np.array(v) for v in errs[kind].values()]
        median = np.array([np.median(v) for v in vals])
        lo = np.array([v.min() for v in vals])
        hi = np.array([v.max() for v in vals])
        slope = result["right"]["loglog_slope"][kind]
        right.plot(widths, median, color=colour, marker=marker, label=f"weight-{kind} (fitted slope {slope:.2f})")
        right.fill_between(widths, lo, hi, color=colour, alpha=0.15, lw=0)
    widths = np.array([float(w) for w in errs["tied"]])
    last = np.median(list(errs["tied"].values())[-1])
    right.plot(widths, last * np.sqrt(widths[-1] / widths), color="gray", ls=":", label=r"$\propto 1/\sqrt{n}$")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xticks(widths)
    right.set_xticklabels([str(int(w)) for w in widths])
    right.xaxis.set_minor_formatter(plt.NullFormatter())
    right.xaxis.set_minor_locator(plt.NullLocator())
    right.set_xlabel("width n")
    right.set_ylabel(r"$\|\hat\Theta - \Theta\|_F \,/\, \|\Theta\|_F$")
    cfg = result["config"]
    right.set_title(f"{cfg['n_signals']} N(0,1) signals of length {cfg['length']}; "
                    f"median (band: min–max) of {cfg['draws']} networks", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.suptitle("Figure 2: the empirical NTK of finite single-layer ReLU RNNs approaches the RNTK")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _num(v: float) -> str:
    return r"$\sqrt{2}$" if abs(v - math.sqrt(2)) < 1e-12 else f"{v:.3g}"


SYMBOL = {"sigma_w": r"\sigma_w", "sigma_b": r"\sigma_b", "sigma_h": r"\sigma_h"}
FLOOR = 1e-10
"""Figure 3's lowest plotted value: a curve that falls 40 decades would flatten every other one."""


def figure3(result: dict, path: Path) -> Path:
    plt = _plt()
    names = ("sigma_w", "sigma_b", "sigma_h")
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), sharex=True)
    for row, act in enumerate(("relu", "erf")):
        base = result["base"][act]
        for col, name in enumerate(names):
            ax = axes[row, col]
            curves = [c for c in result["curves"] if c["activation"] == act and c["varied"] == name]
            colours = plt.cm.plasma(np.linspace(0.0, 0.85, len(curves)))
            dashes = iter(["--", ":", "-.", (0, (6, 2, 1, 2)), (0, (1, 3))])
            for colour, c in zip(colours, curves):
                y = np.array(c["normalised"])
                t = np.arange(1, len(y) + 1)
                is_base = abs(c["value"] - base[name]) < 1e-12
                ax.plot(t, y, color=colour, lw=2.4 if is_base else 1.4, ls="-" if is_base else next(dashes),
                        label=f"${SYMBOL[name]}$ = {_num(c['value'])}" + (" (reference)" if is_base else ""))
            ax.set_yscale("log")
            others = ", ".join(f"${SYMBOL.get(k, k)}$={_num(v)}" for k, v in base.items()
                               if k != name and k in SYMBOL)
            others += f", $\\sigma_u$={_num(base['sigma_u'])}"
            title = f"{act}: vary ${SYMBOL[name]}$ ({others})"
            if min(min(c["normalised"]) for c in curves) < FLOOR:
                ax.set_ylim(bottom=FLOOR, top=2.0)
                title += f"\naxis cut at $10^{{{int(math.log10(FLOOR))}}}$ (table in RESULTS.md)"
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7, loc="best")
            if col == 0:
                ax.set_ylabel(r"$\bar s(t)\,/\,\max_t \bar s(t)$")
            if row == 1:
                ax.set_xlabel("time step t")
    cfg = result["config"]
    fig.suptitle(f"Figure 3: RNTK sensitivity $s(t)=\\|\\nabla_{{x_t}}\\Theta(x,x')\\|$, T = {cfg['length']}, "
                 f"mean over {cfg['pairs']} pairs of N(0,1) sequences (exact gradient)")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def draw_all(results: dict, out: Path) -> list[Path]:
    """Every figure whose section has results; returns the files written."""
    written = []
    if "regression" in results:
        reg = results["regression"]
        written.append(regression_figure(reg["sinusoid"], "Figure 4a: sinusoid, next-sample prediction",
                                         out / "fig4_sinusoid.png"))
        written.append(regression_figure(reg["airline"], "Airline passengers, next-month prediction (Figure 4c protocol)",
                                         out / "fig4_airline.png"))
    if "figure2" in results:
        written.append(figure2(results["figure2"], out / "fig2_convergence.png"))
    if "figure3" in results:
        written.append(figure3(results["figure3"], out / "fig3_sensitivity.png"))
    return written
