"""The report of the ReinMax reproduction, rendered from the results document alone (`render`): one
function per section, and the plots."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..harness import Markdown, bold_best, header, num, plots, pm

POLY_PLOT, VAE_PLOT, GRADIENT_PLOT = "poly.png", "vae_train_elbo.png", "vae_gradient_accuracy.png"
STATES = {"initial": "initialisation", "trained": "trained with ReinMax"}
COLS = 4                                  # panels per row
STYLES = ["-", "--", "-.", ":"]           # so that curves which coincide stay visible


def render(doc: Dict[str, Any], out: Path) -> str:
    c, r = doc["config"], doc["results"]
    md = Markdown()
    header(md, doc)
    _intro(md, c, r)
    if r["poly"] is not None:
        _poly(md, c["poly"], r, Path(out))
    if r["vae"] is not None:
        _vae(md, c["vae"], r, Path(out))
    if r["gradients"] is not None:
        _gradients(md, c["vae"], r, Path(out))
    if r.get("bias") is not None:
        _bias(md, c["bias"], r)
    return md.text()


def _intro(md: Markdown, c: dict, r: dict) -> None:
    used = [c[part] for part in ("poly", "vae") if part in c["parts"]]

    def per_part(key: str) -> str:
        values = list(dict.fromkeys(f"{u[key]:g}" for u in used))
        return " / ".join(values) + (" (poly / VAE)" if len(values) > 1 else "")
    md.p("Estimators: pyalgo's fused ops (`pyalgo.discrete.ESTIMATORS`) on the models' own logits; settings "
         "from the official scripts (`LiyuanLucasLiu/ReinMax`); the methods are described in docs/discrete.md.")
    md.p("**Temperatures.** The released experiment code has run scripts for ReinMax only; the paper's tuned "
         "baseline temperatures are not in it. Baselines use the scripts' argparse default τ = "
         f"{per_part('baseline_tau')} (no baseline was tuned, up or down). "
         f"GR-MCK, ReinMax-Rao and ReinMax-CV use K = {per_part('gr_draws')} draws (the codes' default is "
         f"{r['paper']['gr_draws']}), GST-1.0 gap {r['defaults']['gst']['gap']:g}. ReinMax-CV (Wang & Bui 2026) is "
         "ReinMax plus a control variate and runs at ReinMax's τ, as its authors do"
         + (f", with η = {r['defaults']['reinmax_cv']['eta']:g}, τ₂ = {r['defaults']['reinmax_cv']['tau2']:g}"
            if "reinmax_cv" in r["defaults"] else "") + "; ReinMax-Rao runs at the baselines' τ.")


def _label(r: dict, name: str, tau: Optional[float] = None) -> str:
    return r["labels"][name] + ("" if tau is None else f" (τ={tau:g})")


def _verdict(r: dict, means: Dict[str, float], stds: Dict[str, float], what: str) -> str:
    """One sentence: is ReinMax lowest, and by how much next to the spread over seeds?"""
    best = min(means, key=means.get)
    if "reinmax" not in means or len(means) == 1:
        return f"lowest {what}: {_label(r, best)}."
    others = {k: v for k, v in means.items() if k != "reinmax"}
    runner = min(others, key=others.get)
    if best == "reinmax":
        gap, spread = others[runner] - means["reinmax"], max(stds["reinmax"], stds[runner])
        strength = ("(one seed: no spread estimate)" if spread == 0 else
                    "clearly (gap > 2 std)" if gap > 2 * spread else "but within 2 std of the runner-up")
        return f"ReinMax has the lowest {what}, {strength}; runner-up {_label(r, runner)} (+{gap:.4g})."
    return (f"ReinMax does **not** have the lowest {what}: {_label(r, best)} is lower by "
            f"{means['reinmax'] - means[best]:.4g} (ReinMax std {stds['reinmax']:.2g}, {_label(r, best)} std "
            f"{stds[best]:.2g}).")


# -- 1. polynomial programming ------------------------------------------------------------------------

def _poly(md: Markdown, c: dict, r: dict, out: Path) -> None:
    res, paper = r["poly"], r["paper"]["poly"]
    steps = c["steps_per_epoch"] * c["epochs"]
    md.h(2, "1. Polynomial programming (§3.1)")
    md.p(f"{c['latent']} binary latents, θ ~ U(−{c['init']:g}, {c['init']:g}), loss mean_l |z_l − {c['target']:g}|^p, "
         f"batch {c['batch']}, Adam lr {c['lr']:g}, {c['steps_per_epoch']} steps × {c['epochs']} epochs = {steps} "
         f"steps, seeds {list(c['seeds'])}. ReinMax τ = {c['reinmax_tau']:g} (official); baselines τ = "
         f"{c['baseline_tau']:g}.")
    if (c["latent"], steps, len(c["seeds"])) != (paper["latent"], paper["steps"], paper["seeds"]):
        md.p(f"*Deviation from the paper's protocol ({paper['latent']} latents, {paper['steps']} steps, "
             f"{paper['seeds']} seeds)*: {c['latent']} latents, {steps} steps, {len(c['seeds'])} seeds. The loss "
             "and Adam are separable over latents, so fewer latents change only the noise of the averaged loss, "
             "not each latent's dynamics.")
    md.p(f"**Final loss** = the exact expected loss E_{{D~softmax θ}}[mean_l |z_l − {c['target']:g}|^p] at the end "
         "of training (in closed form, no sampling noise), mean ± std over seeds; lower is better. The optimum "
         "(π_l[0] → 0) and the value at initialisation are given for scale.")
    ps, names = list(res["p"]), list(c["estimators"])
    cols = {p: bold_best([pm(res["p"][p][n]["final_mean"], res["p"][p][n]["final_std"], 5) for n in names],
                         [res["p"][p][n]["final_mean"] for n in names]) for p in ps}
    rows = [[_label(r, n), f"{res['p'][ps[0]][n]['tau']:g}", *(cols[p][i] for p in ps)] for i, n in enumerate(names)]
    rows.append(["*initial*", "", *(num(res["p"][p][names[0]]["initial"], 5) for p in ps)])
    rows.append(["*optimum*", "", *(num(res["optimum"][p], 5) for p in ps)])
    md.table(["estimator", "τ", *(f"p = {p}" for p in ps)], rows)
    md.p("The official script's number (the mean minibatch loss over the last epoch; noisy):")
    md.table(["estimator", *(f"p = {p}" for p in ps)],
             [[_label(r, n), *(pm(res["p"][p][n]["batch_loss_mean"], res["p"][p][n]["batch_loss_std"], 5) for p in ps)]
              for n in names])
    observed = [f"p = {p}: " + _verdict(r, {n: v["final_mean"] for n, v in res["p"][p].items()},
                                        {n: v["final_std"] for n, v in res["p"][p].items()}, "final expected loss")
                for p in ps]
    if "st" in names and "gst" in names:
        observed.append("ST and GST-1.0 (nearly) coincide here, as they must: for a binary latent whose logits "
                        "differ by less than the gap, every draw's GST gradient is p(1 − p)·(g_0 − g_1) with "
                        "p = σ(gap) fixed, and ST's is π_0π_1·(g_0 − g_1) with π fixed within a step: the same "
                        "direction per latent, and Adam is invariant to a per-parameter scale.")
    md.p("Observed:").bullets(observed)
    _plot_poly(c, r, out / POLY_PLOT)
    md.p(f"![polynomial programming]({POLY_PLOT})")


def _plot_poly(c: dict, r: dict, path: Path) -> None:
    res = r["poly"]
    fig, axes = plots.subplots(len(res["p"]), cols=COLS)
    x = np.asarray(res["curve_steps"])
    for ax, (p, per) in zip(axes, res["p"].items()):
        for (name, run), style in zip(per.items(), STYLES * len(per)):
            plots.band(ax, x, np.asarray(run["curves"]), _label(r, name, run["tau"]), ls=style)
        ax.set_xlabel("training step")
        ax.set_title(f"p = {p}: exact E[mean |z − {c['target']:g}|^p]", fontsize=9)
    _finish(fig, axes, f"expected loss ({len(c['seeds'])} seeds, mean ± std)", path)


def _finish(fig, axes: list, ylabel: str, path: Path) -> None:
    """The y label on the first panel of each row, room between the panels, the legend outside."""
    for ax in axes[::COLS]:
        ax.set_ylabel(ylabel)
    fig.subplots_adjust(wspace=0.3, hspace=0.45)
    plots.legend_outside(fig, axes)
    plots.save(fig, path)


# -- 2. categorical VAE -------------------------------------------------------------------------------

def _vae(md: Markdown, c: dict, r: dict, out: Path) -> None:
    res, data, paper = r["vae"], r["vae"]["data"], r["paper"]["vae"]
    h1, h2 = res["hidden"]
    updates = math.ceil(data["train"] / c["batch"]) * c["epochs"]
    paper_updates = paper["train_images"] // paper["batch"] * paper["epochs"]
    md.h(2, "2. Categorical VAE on binarised digits (§3.2)")
    md.p(f"Data: scikit-learn's bundled digits ({paper['dataset']} is not available offline), binarised at pixel "
         f"≥ {c['threshold']:g} of {data['pixel_max']}, fixed split (permutation seed {c['split_seed']}): "
         f"{data['train']} train / {data['test']} test images of {data['pixels']} pixels. The paper's architecture "
         f"with {data['pixels']} instead of {paper['pixels']} pixels: encoder {data['pixels']}-{h1}-{h2}-(L·C) ReLU, "
         f"decoder (L·C)-{h2}-{h1}-{data['pixels']} sigmoid + BCE; KL = Σ q log q + L log C with q = softmax(logits). "
         f"Batch {c['batch']}, {c['epochs']} epochs = {updates} updates, seeds {list(c['seeds'])}.")
    md.p(f"Scale: the paper trains {paper['epochs']} epochs of {paper['dataset']} ({paper['train_images']} images, "
         f"{paper_updates} updates) over {paper['seeds']} seeds; this run makes {c['epochs']} passes over "
         f"{data['train']} images ({updates} updates, {num(paper_updates / updates, 0)}× fewer) over "
         f"{len(c['seeds'])} seeds. GR-MCK dominates the cost.")
    md.p(f"Settings per C×L (official ReinMax lr / τ / optimiser; the baselines share lr and optimiser, τ = "
         f"{c['baseline_tau']:g}):")
    md.table(["C×L", "lr", "optimiser", "ReinMax τ", "baseline τ"],
             [[key.replace("x", "×"), f"{lr:g}", {"adam": "Adam", "radam": "RAdam"}[opt], f"{tau:g}",
               f"{c['baseline_tau']:g}"] for key, (lr, tau, opt) in
              ((k, r["official_vae"][k]) for k in res["settings"])])
    for key, title in (("train", "Train −ELBO (nats), the mean over the last epoch, mean ± std over seeds (the "
                                 "paper's metric; lower is better)"),
                       ("test", "Test −ELBO (a single-sample estimate with the training sampler at the end of "
                                "training; for information)")):
        md.p(f"**{title}**")
        _elbo_table(md, c, r, key)
    observed = [f"{k.replace('x', '×')}: " + _verdict(r, {n: v["train_mean"] for n, v in per.items()},
                                                       {n: v["train_std"] for n, v in per.items()}, "train −ELBO")
                for k, per in res["settings"].items()]
    avg = _average(res, c["estimators"], "train")
    best = min(avg, key=avg.get)
    observed.append(f"average over settings: lowest is {_label(r, best)}" + (
        " (the paper's claim: ReinMax best on average)." if best == "reinmax"
        else ": **not** ReinMax, unlike the paper's claim of ReinMax best on average."))
    for name in ("reinmax_rao", "reinmax_cv"):
        diffs = [(k, per[name]["train_mean"] - per["reinmax"]["train_mean"],
                  max(per[name]["train_std"], per["reinmax"]["train_std"]))
                 for k, per in res["settings"].items() if name in per and "reinmax" in per]
        if diffs:
            observed.append(f"{_label(r, name)} − ReinMax (train −ELBO; negative: {_label(r, name)} is better): " + ", ".join(
                f"{k.replace('x', '×')} {d:+.3f} (std {sd:.3f})" for k, d, sd in diffs) + ".")
    md.p("Observed (train −ELBO):").bullets(observed)
    base = _plot_vae(c, r, out / VAE_PLOT)
    md.p(f"The curves are the train −ELBO per epoch minus {_label(r, base)}'s on the same seed (the same "
         f"initial network), mean ± std over seeds: below zero is better than {_label(r, base)}.")
    md.p(f"![VAE training curves]({VAE_PLOT})")


def _average(res: dict, names: List[str], key: str) -> Dict[str, float]:
    return {n: float(np.mean([per[n][f"{key}_mean"] for per in res["settings"].values()])) for n in names}


def _elbo_table(md: Markdown, c: dict, r: dict, key: str) -> None:
    settings, names = r["vae"]["settings"], list(c["estimators"])
    cols = [bold_best([pm(per[n][f"{key}_mean"], per[n][f"{key}_std"]) for n in names],
                      [per[n][f"{key}_mean"] for n in names]) for per in settings.values()]
    avg = _average(r["vae"], names, key)
    cols.append(bold_best([num(avg[n]) for n in names], [avg[n] for n in names]))
    md.table(["estimator", *(k.replace("x", "×") for k in settings), "average"],
             [[_label(r, n), *(col[i] for col in cols)] for i, n in enumerate(names)])


def _plot_vae(c: dict, r: dict, path: Path) -> str:
    """Train −ELBO per epoch minus the baseline's (ST where it ran) on the same seed; returns the baseline."""
    settings = r["vae"]["settings"]
    base = "st" if "st" in c["estimators"] else c["estimators"][0]
    fig, axes = plots.subplots(len(settings), cols=COLS)
    x = np.arange(1, c["epochs"] + 1)
    for ax, (key, per) in zip(axes, settings.items()):
        ref = np.asarray(per[base]["curves"])
        ax.axhline(0.0, color="k", lw=1, label=_label(r, base, per[base]["tau"]))
        others = [(name, run) for name, run in per.items() if name != base]
        for (name, run), style in zip(others, STYLES * len(others)):
            plots.band(ax, x, np.asarray(run["curves"]) - ref, _label(r, name, run["tau"]), ls=style)
        ax.set_title(f"C×L = {key.replace('x', '×')}", fontsize=9)
        ax.set_xlabel("epoch")
    _finish(fig, axes, f"train −ELBO − {_label(r, base)}'s (nats)", path)
    return base


# -- 3. gradient accuracy -----------------------------------------------------------------------------

METRICS = (("rel_bias", "rel. bias (sampled)"), ("exact_bias", "exact bias"), ("rel_std", "rel. std"),
           ("cosine", "cos"), ("cos_draw", "cos/draw"))


def _gradients(md: Markdown, c: dict, r: dict, out: Path) -> None:
    res = r["gradients"]
    C, L = res["setting"]
    md.h(3, f"Gradient accuracy at {C}×{L} (the paper's `-s N` analysis)")
    md.p(f"The encoder-logit gradient of E_D[BCE] for a fixed minibatch of {c['grad_images']} training images; the "
         f"exact ∇ by enumerating all {C}^{L} = {C ** L} codes per image; {c['grad_samples']} draws per estimator "
         "(`pyalgo.discrete.diagnostics.gradient_stats`); the images' gradients are concatenated as in the paper. "
         "*rel. bias* = ‖ḡ − ∇‖/‖∇‖ from the draws (it includes the Monte Carlo error, about rel. std/√draws); "
         "*exact bias* = the same with the exact expectation of the estimator "
         "(`pyalgo.discrete.diagnostics.expected_estimate`, for the estimators whose gradient is a function of the "
         "sample); *rel. std* = sqrt(Σ E‖ĝ − ḡ‖²)/‖∇‖; *cos* = cos(ḡ, ∇); *cos/draw* = the mean cosine of single "
         f"draws. Models: the {C}×{L} VAE at initialisation, and after training with ReinMax (seed "
         f"{c['seeds'][0]}, {c['epochs']} epochs).")
    for state, rows in res["rows"].items():
        md.p(f"**Model: {STATES[state]}**")
        md.table(["estimator", *(title for _, title in METRICS)],
                 [[_label(r, row["name"], row["tau"]), *(num(row[k], 3 if k in ("rel_std", "cos_draw") else 4)
                                                         for k, _ in METRICS)] for row in rows])
        md.p(_gradient_verdict(r, rows))
    _plot_gradients(r, out / GRADIENT_PLOT)
    first = next(iter(res["rows"].values()))
    no_exact = [_label(r, row["name"]) for row in first if row["exact_bias"] is None]
    md.p("In the plot every bar is an error (relative bias, exact bias, relative std, and 1 − cos): shorter is better."
         + (f" {' and '.join(dict.fromkeys(no_exact))} have no exact bias (their gradient is random given the "
            "sample)." if no_exact else ""))
    md.p(f"![gradient accuracy]({GRADIENT_PLOT})")


def _gradient_verdict(r: dict, rows: List[dict]) -> str:
    def label(row: dict) -> str:
        return _label(r, row["name"], row["tau"])

    def lowest(key: str) -> Optional[dict]:
        return min((row for row in rows if row[key] is not None), key=lambda row: row[key], default=None)

    best, exact = lowest("rel_bias"), lowest("exact_bias")
    text = (f"Observed: lowest relative bias (sampled): {label(best)}"
            + ("." if best["name"] == "reinmax" else ": **not** ReinMax.")
            + (f" Lowest exact bias: {label(exact)}." if exact else "")
            + f" Highest cosine: {label(max(rows, key=lambda row: row['cosine']))}."
            + f" Lowest relative std: {label(lowest('rel_std'))}")
    rm, st = (next((row for row in rows if row["name"] == name), None) for name in ("reinmax", "st"))
    if rm and st:
        text += f"; ReinMax's relative std is {num(rm['rel_std'] / st['rel_std'], 1)}× ST's"
    return text + "."


def _plot_gradients(r: dict, path: Path) -> None:
    """Grouped bars (one group per estimator, one bar per model) on linear axes from zero; the cosine is
    shown as 1 − cos, so that a bar's length is its distance from a perfect direction."""
    rows = r["gradients"]["rows"]
    panels = (("rel_bias", "relative bias ‖ḡ − ∇‖/‖∇‖ (sampled)"), ("exact_bias", "exact bias ‖E ĝ − ∇‖/‖∇‖"),
              ("rel_std", "relative std"), ("cosine", "1 − cos(ḡ, ∇)"))
    first = next(iter(rows.values()))
    names = [_label(r, row["name"], row["tau"]) for row in first]
    width = 0.8 / len(rows)
    fig, axes = plots.subplots(len(panels), cols=COLS, size=(3.6, 3.2))
    for ax, (key, title) in zip(axes, panels):
        for j, (state, per) in enumerate(rows.items()):
            values = [np.nan if row[key] is None else (1 - row[key] if key == "cosine" else row[key]) for row in per]
            ax.bar(np.arange(len(per)) + j * width, values, width, label=STATES[state])
        ax.set_xticks(np.arange(len(names)) + width * (len(rows) - 1) / 2)
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
    _finish(fig, axes, "", path)


# -- 4. bias and variance on synthetic problems ---------------------------------------------------------

BIAS_METRICS = (("bias", "bias"), ("std", "std"), ("rmse", "rmse"), ("cos", "cos"))
KIND_TITLES = {"quadratic": "quadratic f(z) = zᵀAz + bᵀz", "mlp": "MLP f(z) = BCE(MLP(z), x)"}


def _row_label(r: dict, row: dict) -> str:
    options = {k: v for k, v in row["options"].items() if k != "k"}
    extra = ", ".join(f"{'η' if k == 'eta' else 'τ₂' if k == 'tau2' else k}={v:g}" for k, v in options.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)
                      and r["defaults"].get(row["name"], {}).get(k) != v)
    k = row["options"].get("k")
    return r["labels"][row["name"]] + (f" K={k}" if k is not None else "") + (f" ({extra})" if extra else "")


def _bias(md: Markdown, c: dict, r: dict) -> None:
    res = r["bias"]
    C, L = res["setting"]
    taus = [f"{t:g}" for t in c["taus"]]
    md.h(3, f"Bias and variance against the exact gradient, synthetic {C}×{L} problems")
    md.p(f"θ ~ N(0, 1)^{{{L}×{C}}}; {c['problems']} problem(s) per objective; ∇ by enumerating all {C}^{L} = "
         f"{C ** L} codes; E ĝ exact for the estimators whose gradient is a function of the sample (ReinMax, ST, "
         f"GST), else the mean of {c['draws']} draws (its Monte Carlo error, std/√draws, is in the last column); "
         "*std* is the spread of single draws. All relative to ‖∇‖ and averaged over the problems: bias "
         "‖E ĝ − ∇‖, std (E‖ĝ − E ĝ‖²)^½, rmse (bias² + std²)^½, cos(E ĝ, ∇). Lower is better, except cos "
         "(`pyalgo.lab.discrete.gradients`).")
    for kind, per_row in res["kinds"].items():
        md.p(f"**{KIND_TITLES.get(kind, kind)}**")
        head = ["estimator"] + [f"{title} τ={t}" for t in taus for _, title in BIAS_METRICS] + ["MC error"]
        rows = []
        for row, cells in zip(res["rows"], per_row):
            values = [num(cells[t][key], 3) for t in taus for key, _ in BIAS_METRICS]
            mc = max(cells[t]["mc_error"] for t in taus)
            rows.append([_row_label(r, row), *values, "exact" if mc == 0 else num(mc, 3)])
        md.table(head, rows)
        md.p(_bias_verdict(r, res["rows"], per_row, taus))


def _bias_verdict(r: dict, rows: List[dict], cells: List[dict], taus: List[str]) -> str:
    """Per τ: the lowest std and rmse, and the std of ReinMax-Rao / ReinMax-CV against ReinMax's."""
    parts = []
    for t in taus:
        std = {i: cells[i][t]["std"] for i in range(len(rows))}
        rmse = {i: cells[i][t]["rmse"] for i in range(len(rows))}
        text = (f"τ={t}: lowest std {_row_label(r, rows[min(std, key=std.get)])}, lowest rmse "
                f"{_row_label(r, rows[min(rmse, key=rmse.get)])}")
        base = next((i for i, row in enumerate(rows) if row["name"] == "reinmax"), None)
        if base is not None:
            ratios = [f"{_row_label(r, row)} {std[i] / std[base]:.2f}× (bias {cells[i][t]['bias']:.3f} vs "
                      f"{cells[base][t]['bias']:.3f})" for i, row in enumerate(rows) if row["name"].startswith("reinmax_")]
            if ratios:
                text += "; std against ReinMax's: " + ", ".join(ratios)
        parts.append(text)
    return "Observed: " + ". ".join(parts) + "."
