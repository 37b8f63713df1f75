"""Render ``RESULTS.md`` from the stored per-section JSON results.

Every number in the report is read from those results; the sentences that
compare methods are derived from the numbers, so they change when the
numbers do.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

KERNELS = ("RNTK", "MLP-NTK", "RBF", "Polynomial")

PAPER_ROUNDING = 0.005 + 1e-9
"""The paper prints accuracies to two decimals: a figure within half a unit of ours is equal to it."""


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _fmt(v) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v - math.sqrt(2)) < 1e-12:
            return "√2"
        return f"{v:.3g}"
    return str(v)


def _hyper(h: dict) -> str:
    names = {"sigma_w": "σw", "sigma_u": "σu", "sigma_b": "σb", "sigma_h": "σh", "n_layers": "L",
             "alpha": "α", "degree": "d", "offset": "r", "C": "C", "ridge_relative": "λ/mean diag",
             "ridge": "λ"}
    return ", ".join(f"{names.get(k, k)}={_fmt(v)}" for k, v in h.items() if k != "sigma_u")


def _grid_text(grid: dict) -> str:
    return "; ".join(f"{k} ∈ {{{', '.join(_fmt(float(x)) if isinstance(x, (int, float)) else str(x) for x in v)}}}"
                     for k, v in grid.items())


def header(results: dict) -> list[str]:
    lines = [
        "# Results: reproducing *The Recurrent Neural Tangent Kernel* on real data",
        "",
        "Everything below is produced by one command from the repository root,",
        "",
        "```sh",
        "pip install -e '.[experiments]'",
        "python -m experiments            # all sections; --only SECTION to refresh one; --quick for a smoke run",
        "```",
        "",
        "which writes the per-section numbers to `docs/results/*.json`, the figures beside this file,",
        "and this file. Apart from the paper's published accuracies, no number here was typed by hand.",
        "",
        "| section | run | seed | wall time | quick run? |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("classification", "regression", "figure2", "figure3"):
        r = results.get(name)
        if r is None:
            lines.append(f"| {name} | not run | | | |")
            continue
        lines.append(f"| {name} | {r['when']} | {r['seed']} | {r['seconds'] / 60:.1f} min | "
                     f"{'**yes — numbers meaningless**' if r['quick'] else 'no'} |")
    env = next(iter(results.values()), {}).get("environment", {}) if results else {}
    if env:
        lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in env.items()) + "."]
    return lines


def _paper_comparison(r: dict) -> list[str]:
    """Each kernel's GunPoint C-SVM accuracy against the paper's, and where the paper's figure falls among ours."""
    out = []
    for name, paper in r["paper"].items():
        d = r["datasets"].get(name)
        if d is None:
            continue
        step = 100 / d["n_test"]
        items, above_ties = [], []
        for k in KERNELS:
            s = d["kernels"][k]["svm"]
            ours, theirs = 100 * s["test_accuracy"], paper[k]
            lo, hi, best = 100 * s["tied_test_min"], 100 * s["tied_test_max"], 100 * s["grid_best_test"]
            if lo - PAPER_ROUNDING <= theirs <= hi + PAPER_ROUNDING:
                where = f"inside the range of our CV-tied choices, {lo:.2f}–{hi:.2f}"
            elif theirs <= best + PAPER_ROUNDING:
                where = f"outside our CV-tied range {lo:.2f}–{hi:.2f} but within the grid (best {best:.2f})"
                above_ties.append(k)
            else:
                where = f"above every configuration on our grid (best {best:.2f})"
                above_ties.append(k)
            items.append(f"{k} {ours:.2f} vs {theirs:.2f}, {ours - theirs:+.2f} points "
                          f"({(ours - theirs) / step:+.0f} of {d['n_test']} test series); the paper's figure is {where}")
        out += [
            f"**{name} against the paper (C-SVM):** " + "; ".join(items) + ".",
            "",
            "The paper gives neither its CV folds nor its tie-breaking rule, and with "
            f"{d['n_train']} training series the 10-fold CV accuracy takes few distinct values, so many "
            "configurations tie (table below) while their test accuracies differ by up to several points; "
            "that selection noise is as large as these differences"
            + (f", though it does not explain a figure above all of our CV-tied choices ({', '.join(above_ties)}): "
               "there the paper's folds or tie-breaking would have had to favour a configuration that our folds "
               "ranks lower" if above_ties else "")
            + ". The solver is an unlikely source (scikit-learn's "
            "SVC wraps LIBSVM, which the paper used); the MLP-NTK may differ slightly in form, since the paper's "
            "read-out has no bias and ours is Dense(σw, σb) (see the grids).",
            "",
        ]
    return out


def _ranking(r: dict) -> list[str]:
    """Where the RNTK stands among the four kernels on every dataset and classifier."""
    cells, behind = 0, []
    first = 0
    for name, d in r["datasets"].items():
        for clf in ("svm", "krr"):
            acc = {k: d["kernels"][k][clf].get("test_accuracy") for k in KERNELS}
            if acc["RNTK"] is None:
                continue
            cells += 1
            top = max(v for v in acc.values() if v is not None)
            if acc["RNTK"] >= top - 1e-12:
                first += 1
            else:
                leader = max(acc, key=lambda k: -1 if acc[k] is None else acc[k])
                behind.append(f"{name} {clf.upper()} ({100 * (acc['RNTK'] - top):+.2f} points behind {leader}, "
                              f"{round((top - acc['RNTK']) * d['n_test'])} test series)")
    text = f"**Across the four datasets:** the RNTK has the best (or tied best) test accuracy in {first} of {cells} "
    text += "(dataset, classifier) cells"
    text += (": it trails in " + "; ".join(behind) + "." if behind else ".")
    return [text, "The paper reports only GunPoint of these four datasets.", ""]


def classification(r: dict) -> list[str]:
    grid = r["grid"]
    lines = [
        "## 1. Time-series classification",
        "",
        "Protocol (SPEC §4, the paper's Appendix A): every series scaled to unit norm; C-SVM on the",
        "precomputed kernel (scikit-learn `SVC(kernel=\"precomputed\")`, one-vs-one) and the project's kernel",
        "ridge classifier (`rntk_core.KernelRidge`, centred one-hot targets, argmax); all hyperparameters,",
        "C and λ included, chosen by " + r["cv"] + " on the training set only. Of the",
        "candidates with the highest mean CV accuracy the most regularised wins (smallest C, largest λ — the",
        "tie rule of `KernelRidge`'s own ridge selection), then the first kernel configuration in ascending",
        "grid order; it is refitted on the whole training set and scored once on the test set.",
        "The RNTK reads every series at its own length; the MLP-NTK, RBF and polynomial kernels see",
        "flattened series, zero-padded at the end where lengths differ (JapaneseVowels), as in the paper.",
        "",
        "### Test accuracy (%)",
        "",
        "| dataset | train/test | classes | length × dims | "
        + " | ".join(f"{k} SVM | {k} KRR" for k in KERNELS) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---: | ---:" for _ in KERNELS) + " |",
    ]
    for name, d in r["datasets"].items():
        best_svm = max(d["kernels"][k]["svm"]["test_accuracy"] for k in KERNELS)
        best_krr = max(d["kernels"][k]["krr"].get("test_accuracy", -1) for k in KERNELS)
        cells = []
        for k in KERNELS:
            s = d["kernels"][k]["svm"]["test_accuracy"]
            q = d["kernels"][k]["krr"].get("test_accuracy")
            cells.append(("**" + _pct(s) + "**") if s == best_svm else _pct(s))
            cells.append(("**" + _pct(q) + "**") if q == best_krr else _pct(q))
        lo, hi = d["lengths"]
        length = f"{lo}" if lo == hi else f"{lo}–{hi}"
        lines.append(f"| {name} | {d['n_train']}/{d['n_test']} | {d['n_classes']} | {length} × {d['dims']} | "
                     + " | ".join(cells) + " |")
        paper = r["paper"].get(name)
        if paper:
            lines.append(f"| {name}, paper (C-SVM) | | | | "
                         + " | ".join(f"{paper[k]:.2f} | " for k in KERNELS) + " |")
    lines += ["", "Bold: the best kernel of each classifier on each dataset.", ""]

    lines += [*_paper_comparison(r), *_ranking(r)]

    lines += [
        "### How the choice was made: CV accuracy, ties, and the grid's best test accuracy",
        "",
        "*tied*: how many (kernel hyperparameters, C or λ) candidates share the best CV accuracy, and the",
        "range of their test accuracies — any of them was an equally valid choice. *grid best*: the highest",
        "test accuracy anywhere on the grid, an oracle that no valid protocol could report (shown only to",
        "tell selection noise from kernel quality).",
        "",
        "| dataset | kernel | classifier | chosen hyperparameters | CV acc. | test acc. | tied | tied test range | grid best |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, d in r["datasets"].items():
        for k in KERNELS:
            for clf, label in (("svm", "SVM"), ("krr", "KRR")):
                s = d["kernels"][k][clf]
                h = dict(s["hyperparameters"])
                extra = f" (λ={s['ridge_absolute']:.3g})" if clf == "krr" and "ridge_absolute" in s else ""
                lines.append(
                    f"| {name} | {k} | {label} | {_hyper(h)}{extra} | {_pct(s['cv_accuracy'])} | "
                    f"{_pct(s.get('test_accuracy'))} | {s['n_tied']}/{s['n_candidates']} | "
                    f"{_pct(s['tied_test_min'])}–{_pct(s['tied_test_max'])} (median {_pct(s['tied_test_median'])}) | "
                    f"{_pct(s['grid_best_test'])} |")
    title = "quick smoke-run grids" if r["quick"] else "the paper's, Appendix A; nothing thinned"
    lines += ["", f"### Grids ({title})", ""]
    for k in KERNELS:
        lines.append(f"- **{k}** ({r['grid_sizes'][k]} kernels): {_grid_text(grid[k])}")
    lines += [
        f"- **C-SVM**: C ∈ {{{', '.join(_fmt(float(c)) for c in grid['svm_C'])}}}",
        f"- **Kernel ridge classifier**: λ = ρ · mean(diag K_train), ρ ∈ "
        f"{{{', '.join(_fmt(float(c)) for c in grid['krr_ridge_relative'])}}} (this project's grid: the paper used no "
        "KRR classifier; a grid relative to the kernel's scale serves kernels whose values differ by orders of magnitude).",
        "- MLP-NTK: L hidden Dense(σw, σb)–ReLU layers and a Dense(σw, σb) read-out, NTK parameterisation, "
        "on inputs of dimension T·m (formula in `experiments/kernels.py`). The paper's Appendix A writes the "
        "read-out without bias.",
        "",
        "### Runtime (wall clock, 2 shared cores)",
        "",
        "| dataset | " + " | ".join(KERNELS) + " | total |",
        "| --- | " + " | ".join("---:" for _ in KERNELS) + " | ---: |",
    ]
    for name, d in r["datasets"].items():
        lines.append(f"| {name} | " + " | ".join(f"{d['seconds'][k]:.0f} s" for k in KERNELS)
                     + f" | {d['seconds']['total'] / 60:.1f} min |")
    low = min(grid["krr_ridge_relative"])
    edge = [f"{name}/{k}" for name, d in r["datasets"].items() for k in KERNELS
            if abs(d["kernels"][k]["krr"]["hyperparameters"]["ridge_relative"] - low) <= 1e-15]
    if edge:
        lines += ["", f"In {len(edge)} of {len(r['datasets']) * len(KERNELS)} kernel ridge choices CV picked the "
                  f"smallest ridge on the grid (ρ = {_fmt(float(low))}: {', '.join(edge)}); a grid reaching lower "
                  "might change those choices (the smallest ridges make the classifier nearly interpolate)."]
    checks = [(name, k, d["kernels"][k]["krr"]) for name, d in r["datasets"].items() for k in KERNELS]
    agree = sum(1 for *_, s in checks if s.get("kernelridge_agrees"))
    errors = [f"{n}/{k}: {s['kernelridge_error']}" for n, k, s in checks if "kernelridge_error" in s]
    lines += [
        "",
        f"The KRR test accuracies are `rntk_core.KernelRidge`'s own (the RNTK with its own Gram; the other kernels "
        f"through its precomputed mode, `fit_gram` / `predict_gram`, on their matrices); they equal those of the eigendecomposition path "
        f"used for cross-validation in {agree} of {len(checks)} cases."
        + (" KernelRidge refused: " + "; ".join(errors) if errors else ""),
        "",
    ]
    return lines


PADDED = ("MLP-NTK", "RBF", "Polynomial")


def _restricted(protocol: dict) -> str:
    """The name of the RNTK restricted to the paper's σw range."""
    return next(m for m in protocol["methods"] if m.startswith("RNTK ("))


def _lead_rows(protocol: dict, padding: str, rntk: str = "RNTK") -> list[dict]:
    """Per Tvar: the RNTK's median SNR, the best zero-padded kernel by median, the lead, and paired wins.

    Every method is scored on the same draws, so the lead is also counted draw by draw: how many
    draws the RNTK beats that kernel on.
    """
    s, raw = protocol["summary"], protocol["snr_db"]
    rows = []
    for t in protocol["config"]["tvar"]:
        t = str(t)
        padded = {k: s[f"{k} ({padding}-padded)"][t]["median"] for k in PADDED}
        best = max(padded, key=padded.get)
        ours = np.array(raw[rntk][t], dtype=float)
        theirs = np.array(raw[f"{best} ({padding}-padded)"][t], dtype=float)
        pts = np.array(raw["PTS"][t], dtype=float)
        rows.append({
            "tvar": int(t), "rntk": s[rntk][t]["median"], "best": best, "best_snr": padded[best],
            "lead": s[rntk][t]["median"] - padded[best],
            "paired_median": float(np.median(ours - theirs)), "wins": int(np.sum(ours > theirs)),
            "draws": int(len(ours)), "vs_pts": s[rntk][t]["median"] - s["PTS"][t]["median"],
            "wins_pts": int(np.sum(ours > pts)),
        })
    return rows


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _trend(rows: list[dict]) -> dict:
    """Whether the lead grows with Tvar: Spearman ρ ≥ 0.8 between Tvar and the lead, and a larger lead at the end."""
    t = np.array([r["tvar"] for r in rows], dtype=float)
    lead = np.array([r["lead"] for r in rows])
    rho = _spearman(t, lead) if len(t) > 1 else 0.0
    slope = float(np.polyfit(t, lead, 1)[0]) if len(t) > 1 else 0.0
    peak = int(np.argmax(lead))
    if rho >= 0.8 and lead[-1] > lead[0]:
        verdict = "grows with Tvar, as in the paper"
    elif lead[-1] > lead[0]:
        verdict = ("is larger at the largest Tvar than at Tvar = 0 but does **not** grow steadily with Tvar "
                   "as the paper reports")
    else:
        verdict = "does **not** grow with Tvar as the paper reports"
    return {"t": t, "lead": lead, "rho": rho, "slope": slope, "peak": peak, "verdict": verdict,
            "grows": verdict.startswith("grows")}


def _trend_sentence(rows: list[dict], padding: str, who: str = "the RNTK") -> str:
    tr = _trend(rows)
    t, lead = tr["t"], tr["lead"]
    where = "before" if padding == "pre" else "after"
    text = (f"Zeros {where} the window: {who}'s lead over the best zero-padded kernel {tr['verdict']}: "
            f"{lead[0]:+.2f} dB at Tvar = {int(t[0])}, {lead[-1]:+.2f} dB at Tvar = {int(t[-1])}")
    if tr["peak"] != len(lead) - 1:
        text += f", largest at Tvar = {int(t[tr['peak']])} ({lead[tr['peak']]:+.2f} dB)"
    return text + f" (Spearman ρ = {tr['rho']:+.2f}, least-squares slope {10 * tr['slope']:+.2f} dB per 10 steps)."


def _snr_table(protocol: dict, key: str = "summary") -> list[str]:
    s = protocol[key]
    tvars = [str(t) for t in protocol["config"]["tvar"]]
    lines = ["| method | " + " | ".join(f"Tvar={t}" for t in tvars) + " |",
             "| --- | " + " | ".join("---:" for _ in tvars) + " |"]
    for method in protocol["methods"]:
        cells = []
        for t in tvars:
            v = s[method].get(t)
            cells.append("—" if v is None else f"{v['median']:.2f} [{v['q25']:.2f}, {v['q75']:.2f}]")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _lead_table(protocol: dict, rntk: str = "RNTK") -> list[str]:
    lines = ["| Tvar | " + ("RNTK" if rntk == "RNTK" else "RNTK, paper's σw") + " | best pre-padded kernel | lead "
             "| wins | best post-padded kernel | lead | wins | − PTS | wins vs PTS |",
             "| ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    pre, post = _lead_rows(protocol, "pre", rntk), _lead_rows(protocol, "post", rntk)
    for a, b in zip(pre, post):
        lines.append(
            f"| {a['tvar']} | {a['rntk']:.2f} | {a['best']} {a['best_snr']:.2f} | {a['lead']:+.2f} | "
            f"{a['wins']}/{a['draws']} | {b['best']} {b['best_snr']:.2f} | {b['lead']:+.2f} | {b['wins']}/{b['draws']} | "
            f"{a['vs_pts']:+.2f} | {a['wins_pts']}/{a['draws']} |")
    return lines


def _choices(protocol: dict) -> str:
    """How often CV chose λ = 0 and the most frequent RNTK σw, over all draws."""
    picks = [h for by_t in protocol["chosen"]["RNTK"].values() for h in by_t if h]
    if not picks:
        return ""
    zero = sum(1 for h in picks if h["ridge"] == 0) / len(picks)
    sw = {}
    for h in picks:
        sw[_fmt(h["sigma_w"])] = sw.get(_fmt(h["sigma_w"]), 0) + 1
    common = sorted(sw.items(), key=lambda kv: -kv[1])[:3]
    lowest = min(h["sigma_w"] for h in picks)
    grid_low = min(protocol_grid_sigma_w) if (protocol_grid_sigma_w := protocol.get("_rntk_sigma_w")) else None
    text = (f"Over all {len(picks)} draws the RNTK's CV chose λ = 0 in {100 * zero:.0f}% of them; its most "
            "frequent σw: " + ", ".join(f"{k} ({v}×)" for k, v in common) + ".")
    if grid_low is not None and lowest <= grid_low + 1e-12:
        at_edge = sum(1 for h in picks if h["sigma_w"] <= grid_low + 1e-12)
        text += (f" In {at_edge} draws it chose the grid's smallest σw, {_fmt(float(grid_low))}: a lower σw "
                 "might have been chosen there.")
    return text


def _protocol_results(protocol: dict) -> list[str]:
    """The SNR table, the RNTK's lead over the zero-padded kernels, the trend verdicts and the CV choices."""
    restricted = _restricted(protocol)
    return [
        "Median SNR (dB) [interquartile range] over the repetitions:",
        "",
        *_snr_table(protocol),
        "",
        "The RNTK's lead over the best zero-padded kernel (best by median at that Tvar; *lead*: difference of "
        "medians in dB; *wins*: draws in which the RNTK's SNR is higher, every method being scored on the same "
        "draws), and over PTS:",
        "",
        *_lead_table(protocol),
        "",
        _trend_sentence(_lead_rows(protocol, "pre"), "pre"),
        "",
        _trend_sentence(_lead_rows(protocol, "post"), "post"),
        "",
        "The same for the RNTK restricted to the paper's σw ∈ [1.34, 1.47]:",
        "",
        *_lead_table(protocol, restricted),
        "",
        _trend_sentence(_lead_rows(protocol, "pre", restricted), "pre", "this RNTK"),
        "",
        _trend_sentence(_lead_rows(protocol, "post", restricted), "post", "this RNTK"),
        "",
        _choices(protocol),
        "",
    ]


def regression(r: dict) -> list[str]:
    sin, air = dict(r["sinusoid"]), dict(r["airline"])
    for protocol in (sin, air):
        protocol["_rntk_sigma_w"] = r["grid"]["RNTK"]["sigma_w"]
    sc, ac = sin["config"], air["config"]
    lines = [
        "## 2. Variable-length regression (Figure 4)",
        "",
        "Kernel ridge regression for every kernel. λ ∈ {" + ", ".join(_fmt(float(x)) for x in r["ridges"])
        + "} (the paper's grid) and the kernel hyperparameters are chosen together by "
        f"{r['n_folds']}-fold CV on the training windows (least mean squared validation error; ties to the first "
        "in grid order). Kernel grids: MLP-NTK, RBF and polynomial as in the classification section "
        f"(Appendix A); RNTK: {_grid_text(r['grid']['RNTK'])} — the paper's grid with σw extended "
        "downwards, because σw sets how fast the RNTK forgets old steps (Figure 3; for ReLU each step scales "
        "the weight of the older ones by σw²·V' with V' ≤ 1/2) and next-step prediction needs a short memory, "
        "whereas the paper's "
        "σw ∈ [1.34, 1.47] was tuned to classify whole series. The paper's Appendix A.2 lists only the λ grid and "
        "says the regression used the same hyperparameter sets for all kernels (read here as the classification "
        "grids of Appendix A.1); the RNTK chosen within the paper's σw range alone is therefore shown too, as "
        "\"RNTK (σw ∈ [1.34, 1.47] only)\". The RNTK reads each window at its own length; the other kernels see windows "
        "zero-padded to the longest possible length, either with the zeros *before* the window (last samples "
        "aligned, as the RNTK aligns sequences) or *after* it (first samples aligned). PTS, the previous-time-step "
        "predictor, predicts the window's last sample. Score: prediction SNR = 10·log10(Σy²/Σ(y−ŷ)²) in dB over "
        f"the test windows. Seeds: {r['seed_rule']}, seed {r['seed']} (sinusoid) and {r['seed'] + 1} (Airline).",
        "",
        "### Sinusoid",
        "",
        f"One period sampled {sc['n_samples']} times plus white noise σn = {sc['noise']} (a fresh draw per "
        f"repetition); {sc['n_train']} training and {sc['n_test']} test windows at random positions with lengths "
        f"uniform in [{sc['t_fixed']}, {sc['t_fixed']} + Tvar]; the target is the next (noisy) sample; "
        f"{sc['repetitions']} repetitions per Tvar (the paper: 1000). Even the noise-free sinusoid scores only "
        f"10·log10(0.5/σn²) = {10 * math.log10(0.5 / sc['noise'] ** 2):.1f} dB against noisy targets, so every "
        "sensible predictor lies within a few dB of that ceiling. The paper's Figure 4 exists only as a plot "
        "(its text gives no SNR values), so the comparison with it is qualitative.",
        "",
        "![Figure 4a](fig4_sinusoid.png)",
        "",
        *_protocol_results(sin),
        "Against the noise-free next sample instead of the noisy one (same predictions), median SNR:",
        "",
        *_snr_table(sin, "summary_clean_target"),
        "",
        "### Airline passengers",
        "",
        f"The 144 monthly totals 1949–1960. Training windows (with their target) inside the first "
        f"{int(100 * ac['train_fraction'])}% (months 1–{int(round(ac['train_fraction'] * 144))}), {ac['n_train']} "
        f"per draw at random positions, lengths uniform in [{ac['t_fixed']}, {ac['t_fixed']} + Tvar]; test windows: "
        f"every window of an allowed length lying entirely in the remaining months (the same set for all draws); "
        f"{ac['repetitions']} training draws per Tvar. Each window is divided by its own last value and the target "
        "is the ratio next/last (the series quadruples over the 12 years, so test months lie above every training "
        "month); predictions are multiplied back and the SNR is computed on passenger counts.",
        "",
        "![Airline](fig4_airline.png)",
        "",
        *_protocol_results(air),
    ]
    checks = sin["kernelridge_check"] + air["kernelridge_check"]
    worst = max((c["max_relative_difference"] for c in checks if c["max_relative_difference"] is not None),
                default=float("nan"))
    lines += [
        f"Check: for the first draw of every Tvar, `rntk_core.KernelRidge` refitted with the RNTK's chosen "
        f"hyperparameters reproduces the predictions used here to {worst:.1e} relative.",
        f"Runtime: sinusoid {sin['seconds'] / 60:.1f} min, Airline {air['seconds'] / 60:.1f} min.",
        "",
    ]
    return lines


def _sigmas(params: dict) -> str:
    names = {"sigma_w": "σw", "sigma_u": "σu", "sigma_b": "σb", "sigma_h": "σh", "sigma_v": "σv"}
    return ", ".join(f"{names[k]} = {_fmt(float(v[0] if isinstance(v, list) else v))}"
                     for k, v in params.items() if k in names)


def figure2(r: dict) -> list[str]:
    cfg = r["config"]
    f = _fig2_facts(r)
    errs = r["right"]["relative_error"]
    widths = list(errs["tied"])
    lines = [
        "## 3. Figure 2: finite RNNs converge to the RNTK",
        "",
        "![Figure 2](fig2_convergence.png)",
        "",
        f"Single-layer ReLU RNNs with the library's default hyperparameters ({_sigmas(r['params'])}), "
        "NTK parameterisation, gradients by hand-written backpropagation through time (`experiments/finite_rnn.py`, "
        "batched; `tests/experiments/test_finite_rnn.py` checks it against finite differences and against the "
        "one-sequence-at-a-time test oracle `tests/rntk_core/finite_rnn.py` on the same weights). "
        "The RNTK is `rntk_core.gram`.",
        "",
        "Left: one weight-tied network per width; largest |Θ̂ − Θ| over α: "
        + ", ".join(f"n = {w}: {v:.3f}" for w, v in r["left"]["max_abs_error"].items())
        + f" (Θ ranges over [{min(r['left']['exact']):.3f}, {max(r['left']['exact']):.3f}]).",
        "",
        f"Right: ‖Θ̂ − Θ‖_F/‖Θ‖_F on the Gram of {cfg['n_signals']} N(0,1) signals of length {cfg['length']}, "
        f"median over {cfg['draws']} networks per width (untied: independent W_t, U_t, b_t at every step):",
        "",
        "| width | " + " | ".join(widths) + " |",
        "| --- | " + " | ".join("---:" for _ in widths) + " |",
    ]
    for kind in ("tied", "untied"):
        lines.append(f"| {kind} | " + " | ".join(f"{np.median(errs[kind][w]):.3f}" for w in widths) + " |")
    s = r["right"]["loglog_slope"]
    lines += [
        "",
        f"Fitted log–log slopes: tied {s['tied']:.2f}, untied {s['untied']:.2f} (1/√n is −0.5): "
        + ("both converge to the same RNTK, at the rate 1/√n, as the paper's Theorem 3 and Figure 2 state. "
           if _root_n(s["tied"]) and _root_n(s["untied"]) else
           "both errors fall, but the fitted rates are not both close to 1/√n over these widths. ")
        + "At equal width "
        f"the tied networks' error is {f['ratio']:.1f}× the untied ones' (median over widths; "
        f"{f['ratio_lo']:.1f}–{f['ratio_hi']:.1f}×): sharing W across steps correlates the steps' gradient terms, "
        "so their fluctuations add up rather than average out. The paper plots the log of an average normalised "
        "error without defining the norm; the Frobenius ratio used here is robust to the pairs whose Θ is near "
        f"zero. Left panel: at n = {f['left_width']} the largest deviation over α is {f['left_error']:.3f}, "
        f"{100 * f['left_error'] / f['left_range']:.0f}% of the range of Θ over α.",
        "",
    ]
    return lines


def figure3(r: dict) -> list[str]:
    cfg = r["config"]
    checks = r["checks"]
    worst_k = max(c["kernel_max_relative_difference"] for c in checks)
    worst_g = max(c["gradient_vs_richardson_relative"] for c in checks)
    worst_s = max(c["two_steps_relative_difference"] for c in checks)
    lines = [
        "## 4. Figure 3: per-time-step sensitivity",
        "",
        "![Figure 3](fig3_sensitivity.png)",
        "",
        f"s(t) = |∂Θ(x, x')/∂x_t| for pairs of independent N(0,1) sequences of length T = {cfg['length']} "
        f"(m = 1), averaged over {cfg['pairs']} pairs and divided by its maximum over t, as in the paper. "
        "The gradient is exact: forward-mode differentiation of the single-layer recursion (SPEC §1.2–1.4) "
        "with the dual activations' derivatives written out (`experiments/figure3.py`). Checked on "
        f"{cfg['checked_pairs']} pairs of every curve: the recursion's Θ equals `rntk_core.gram` to "
        f"{worst_k:.1e} relative; the gradient equals Richardson-extrapolated central differences of "
        f"`rntk_core.gram` (steps h = {cfg['step']:g}·max(1, |x_t|) and h/2) to {worst_g:.1e} relative "
        f"(‖·‖₂ over t); the two step sizes alone agree to {worst_s:.1e}.",
        "",
        *_fig3_findings(r),
        "Where each curve puts its weight — the ratio s(1)/s(T) of the mean sensitivity at the first and the "
        "last step (> 1: early steps dominate):",
        "",
        "| activation | varied | value | s(1)/s(T) | argmax_t s(t) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for c in r["curves"]:
        y = np.array(c["mean_s"])
        lines.append(f"| {c['activation']} | {c['varied']} | {_fmt(float(c['value']))} | {y[0] / y[-1]:.3g} | "
                     f"{int(np.argmax(y)) + 1} |")
    lines += [""]
    return lines


def _fig2_facts(r: dict) -> dict:
    errs = r["right"]["relative_error"]
    widths = list(errs["tied"])
    tied = np.array([np.median(errs["tied"][w]) for w in widths])
    untied = np.array([np.median(errs["untied"][w]) for w in widths])
    exact = np.array(r["left"]["exact"])
    largest = max(r["left"]["finite"], key=int)
    return {
        "slopes": r["right"]["loglog_slope"], "ratio": float(np.median(tied / untied)),
        "ratio_lo": float(np.min(tied / untied)), "ratio_hi": float(np.max(tied / untied)),
        "widest": widths[-1], "tied_last": float(tied[-1]), "untied_last": float(untied[-1]),
        "left_width": largest, "left_error": r["left"]["max_abs_error"][largest],
        "left_range": float(exact.max() - exact.min()),
    }


def _fig3_facts(r: dict) -> dict:
    """Numbers behind the statements about Figure 3: where each curve peaks and how flat the references are."""
    curves = r["curves"]
    base = r["base"]

    def pick(act, name, value):
        return next(np.array(c["mean_s"]) for c in curves
                    if c["activation"] == act and c["varied"] == name and abs(c["value"] - value) < 1e-12)

    facts = {}
    for act in ("relu", "erf"):
        ref = pick(act, "sigma_w", base[act]["sigma_w"])
        below, above = [], []
        for c in curves:
            if c["activation"] != act or c["varied"] != "sigma_w" or abs(c["value"] - base[act]["sigma_w"]) < 1e-12:
                continue
            y = np.array(c["mean_s"])
            (below if c["value"] < base[act]["sigma_w"] else above).append(
                (c["value"], int(np.argmax(y)) + 1, float(y[0] / y[-1])))
        h_values = sorted(c["value"] for c in curves if c["activation"] == act and c["varied"] == "sigma_h")
        h0, h1 = pick(act, "sigma_h", h_values[0]), pick(act, "sigma_h", h_values[-1])
        b_values = sorted(c["value"] for c in curves if c["activation"] == act and c["varied"] == "sigma_b")
        b0, b1 = pick(act, "sigma_b", b_values[0]), pick(act, "sigma_b", b_values[-1])
        facts[act] = {
            "ref_spread": float(ref.max() / ref.min()), "ref_first_last": float(ref[0] / ref[-1]),
            "ref_argmax": int(np.argmax(ref)) + 1, "below": below, "above": above,
            "h_values": (h_values[0], h_values[-1]),
            "h_first": (float(h0[0] / h0.max()), float(h1[0] / h1.max())),
            "b_values": (b_values[0], b_values[-1]),
            "b_first": (float(b0[0] / b0.max()), float(b1[0] / b1.max())),
        }
    facts["length"] = r["config"]["length"]
    return facts


def _sigma_w_effect(f: dict, length: int) -> str:
    def side(items):
        return ", ".join(f"σw = {_fmt(float(v))}: peak at t = {t}" for v, t, _ in items)
    late = lambda items: all(t > length // 2 for _, t, _ in items)  # noqa: E731
    early = lambda items: all(t <= length // 2 for _, t, _ in items)  # noqa: E731
    desc = []
    if f["below"]:
        desc.append(("smaller σw moves the weight to the last steps" if late(f["below"]) else
                     "smaller σw moves the weight to the first steps" if early(f["below"]) else
                     "smaller σw has mixed effects") + f" ({side(f['below'])})")
    if f["above"]:
        desc.append(("larger σw moves it to the first steps" if early(f["above"]) else
                     "larger σw moves it to the last steps" if late(f["above"]) else
                     "larger σw has mixed effects") + f" ({side(f['above'])})")
    return "; ".join(desc)


def _root_n(slope: float) -> bool:
    """A fitted log–log slope compatible with 1/√n over the widths measured."""
    return -0.65 <= slope <= -0.35


def _relu_as_paper(f: dict, length: int) -> bool:
    """The paper's ReLU reading: smaller σw over-weights the last steps, larger σw the first."""
    return (all(t > length // 2 for _, t, _ in f["below"]) and all(t <= length // 2 for _, t, _ in f["above"]))


def summary(results: dict) -> list[str]:
    """The findings in a few lines, each with its numbers, and where they differ from the paper."""
    lines = ["## Summary: what reproduces and what does not", ""]
    if "classification" in results:
        r = results["classification"]
        for name, paper in r["paper"].items():
            d = r["datasets"].get(name)
            if d:
                diffs = ", ".join(f"{k} {100 * d['kernels'][k]['svm']['test_accuracy']:.2f} "
                                  f"({100 * d['kernels'][k]['svm']['test_accuracy'] - paper[k]:+.2f})" for k in KERNELS)
                svm = {k: d["kernels"][k]["svm"] for k in KERNELS}
                inside = [k for k in KERNELS
                          if 100 * svm[k]["tied_test_min"] - PAPER_ROUNDING <= paper[k] <= 100 * svm[k]["tied_test_max"] + PAPER_ROUNDING]
                on_grid = [k for k in KERNELS if paper[k] <= 100 * svm[k]["grid_best_test"] + PAPER_ROUNDING]
                narrower = [k for k in KERNELS if abs(100 * svm[k]["test_accuracy"] - paper[k])
                            <= 100 * (svm[k]["tied_test_max"] - svm[k]["tied_test_min"]) + PAPER_ROUNDING]
                lines.append(
                    f"- **Classification, {name}** (C-SVM, paper's grids; in brackets the difference from the paper "
                    f"in points): {diffs}. One test series is {100 / d['n_test']:.2f} points. The paper's figure lies "
                    f"inside the test-accuracy range of our CV-tied configurations for {len(inside)} of 4 kernels "
                    f"({', '.join(inside) or 'none'}) and at or below the best accuracy on our grid for "
                    f"{len(on_grid)} of 4; the difference is no larger than the width of that tied range for "
                    f"{len(narrower)} of 4 (§1).")
        lines.append("- " + _ranking(r)[0].replace("**Across the four datasets:**", "**Classification, all four "
                                                    "datasets:**"))
    if "regression" in results:
        reg = results["regression"]
        for key, label in (("sinusoid", "Sinusoid (Figure 4a)"), ("airline", "Airline")):
            p = reg[key]
            restricted = _restricted(p)
            parts = []
            for who, method in (("RNTK", "RNTK"), ("RNTK with the paper's σw only", restricted)):
                for padding in ("pre", "post"):
                    rows = _lead_rows(p, padding, method)
                    tr = _trend(rows)
                    word = ("grows" if tr["grows"] else
                            "does not grow steadily" if tr["lead"][-1] > tr["lead"][0] else "does not grow")
                    parts.append(f"{who} vs {padding}-padded kernels: lead {word}, "
                                 f"{tr['lead'][0]:+.2f} → {tr['lead'][-1]:+.2f} dB "
                                 f"(Tvar {int(tr['t'][0])} → {int(tr['t'][-1])})")
            lines.append(f"- **{label}**, does the RNTK's lead over the zero-padded kernels grow with Tvar? "
                         + "; ".join(parts) + ".")
        lines.append("  The paper does not say where its zeros went. Zeros *after* the window (first samples aligned) "
                     "are the common default and move the most recent samples, the ones that matter for next-step "
                     "prediction, to a different position in every window; zeros *before* it keep those samples in "
                     "fixed positions, so the padded kernels lose much less. \"The paper's σw only\" is the RNTK "
                     "chosen on the paper's classification grid; \"RNTK\" adds σw ∈ {0.5 … 1.2} (§2).")
    if "figure2" in results:
        f = _fig2_facts(results["figure2"])
        both = _root_n(f["slopes"]["tied"]) and _root_n(f["slopes"]["untied"])
        lines.append(f"- **Figure 2**: the empirical NTK of finite RNNs approaches the RNTK with error falling like "
                     f"n^{f['slopes']['tied']:.2f} (weight-tied) and n^{f['slopes']['untied']:.2f} (untied), "
                     "1/√n being n^-0.5" + (", as the paper shows" if both else
                                           ", not clearly at the paper's 1/√n rate over these widths")
                     + f"; the tied networks' error is {f['ratio']:.1f}× the untied ones' at equal width "
                     "(median over widths).")
    if "figure3" in results:
        f = _fig3_facts(results["figure3"])
        relu, erf = f["relu"], f["erf"]
        flat = "nearly flat" if relu["ref_spread"] < 3 else "not flat"
        erf_flat = erf["ref_first_last"] <= 3 and erf["ref_spread"] < 3
        lines.append(f"- **Figure 3**: for ReLU at the paper's reference setting the sensitivity is {flat} "
                     f"(max/min over t = {relu['ref_spread']:.1f}), and {_sigma_w_effect(relu, f['length'])}"
                     + (" — as the paper reports. " if _relu_as_paper(relu, f["length"]) and flat == "nearly flat"
                        else " — the paper reports a flat curve, with smaller/larger σw over-weighting the "
                             "last/first steps. ")
                     + (f"For erf at its reference setting it is nearly flat as in the paper; "
                        if erf_flat else
                        f"For erf at its reference setting it is not flat: s(1)/s(T) = {erf['ref_first_last']:.3g}; ")
                     + f"{_sigma_w_effect(erf, f['length'])}"
                     + (", whereas the paper reports over-sensitivity to the last steps for any change of σw (§4)."
                        if any(t <= f["length"] // 2 for _, t, _ in erf["above"]) else
                        ", consistent with the paper's over-sensitivity to the last steps (§4)."))
    lines.append("")
    return lines


def _fig3_findings(r: dict) -> list[str]:
    f = _fig3_facts(r)
    relu, erf = f["relu"], f["erf"]
    T = f["length"]
    return [
        f"**ReLU** (reference σw = √2, σu = 1, σb = σh = 0): the mean sensitivity stays within a factor "
        f"{relu['ref_spread']:.1f} over the {T} steps (peak at t = {relu['ref_argmax']}, s(1)/s(T) = "
        f"{relu['ref_first_last']:.2f})"
        + (", the near-constant sensitivity the paper reports; " if relu["ref_spread"] < 3 else
           ", less constant than the paper reports; ")
        + f"{_sigma_w_effect(relu, T)}"
        + (", as the paper says (a small decrease/increase of σw over-weights the last/first steps). "
           if _relu_as_paper(relu, T) else
           "; the paper says a small decrease/increase of σw over-weights the last/first steps. ")
        + "σb > 0 lowers the weight of all but the last steps (s(1)/max s: "
        f"{relu['b_first'][0]:.2f} at σb = {_fmt(float(relu['b_values'][0]))}, {relu['b_first'][1]:.2f} at "
        f"σb = {_fmt(float(relu['b_values'][1]))}). σh barely matters here: s(1)/max s goes from "
        f"{relu['h_first'][0]:.3f} at σh = {_fmt(float(relu['h_values'][0]))} to {relu['h_first'][1]:.3f} at "
        f"σh = {_fmt(float(relu['h_values'][1]))}, because σh enters only the first step's variance, next to "
        "σu²x₁² ≈ 1 (the paper reports that σh > 0 reduces the first steps' weight for ReLU too; here the "
        "reduction is that small).",
        "",
        f"**erf** (reference σw = 1, σu = 0.01, σb = 0.05, σh = 0): "
        + (f"not flat — s(1)/s(T) = {erf['ref_first_last']:.3g}, the first steps dominate, and most of the fall "
           "happens over the first steps. A likely reason: the inputs are tiny (σu = 0.01) and the variances start "
           "small, where the erf dual is nearly linear with V' ≈ 4/π, so each step multiplies the weight of the "
           "older steps by about σw²·4/π ≈ 1.27 at σw = 1 until the variances approach their fixed point. "
           if erf["ref_first_last"] > 3 else f"nearly flat (max/min over t = {erf['ref_spread']:.1f}). ")
        + f"Varying σw: {_sigma_w_effect(erf, T)}. "
        + ("The paper reports over-sensitivity to the last steps for any change of σw and a similar, roughly flat "
           "behaviour of both activations at their reference settings; here that holds only for smaller σw. Why is "
           "not known: the kernel follows SPEC §1 (the paper's B.5 erf formulas with its typo corrected) and the "
           "gradient matches finite differences of `rntk_core.gram`. "
           if any(t <= T // 2 for _, t, _ in erf["above"]) or erf["ref_first_last"] > 3 else "")
        + f"σh > 0 removes the early-step dominance (s(1)/max s: {erf['h_first'][0]:.3f} at σh = "
        f"{_fmt(float(erf['h_values'][0]))}, {erf['h_first'][1]:.3f} at σh = {_fmt(float(erf['h_values'][1]))}), "
        "the effect the paper describes.",
        "",
    ]


def write(results: dict, out: Path) -> Path:
    lines = header(results) + [""] + summary(results)
    if "classification" in results:
        lines += classification(results["classification"])
    if "regression" in results:
        lines += regression(results["regression"])
    if "figure2" in results:
        lines += figure2(results["figure2"])
    if "figure3" in results:
        lines += figure3(results["figure3"])
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").rstrip(), ""]
    path = out / "RESULTS.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
