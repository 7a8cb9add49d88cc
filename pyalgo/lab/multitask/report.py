"""The report of the multi-task reproduction, rendered from the results document alone (`render`):
one function per section, and the toy's trajectories plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import torch

from ..harness import Markdown, bold_best, header, num, plots, pm
from . import problems as P
from .protocol import BENCHMARKS, LABELS, METHOD_ORDER

TITLES = {"regression": "B2 synthetic grouped regression: test MSE per task (lower is better)",
          "digits": "B3 digits one-vs-rest: test F1 per task (higher is better)"}
DIGITS = {"regression": 3, "digits": 1}       # decimals of the per-task metrics
TOY_PLOT = "toy_trajectories.png"


def render(doc: Dict[str, Any], out: Path) -> str:
    c, r = doc["config"], doc["results"]
    md = Markdown()
    header(md, doc)
    md.p(f"Seeds {c['seeds']}; toy {c['toy_steps']} Adam steps (lr {c['toy_lr']:g}); regression "
         f"{c['regression_steps']} steps; digits {c['digits_steps']} steps. The benchmarks and the methods are "
         "described in docs/multitask.md.")
    _summary(md, r)
    _toy(md, c, r, Path(out))
    for number, name in enumerate(BENCHMARKS, start=3):
        _per_task(md, number, name, c, r)
    _hparams(md, c, r)
    return md.text()


def _toy_key(method: str, scale: float) -> str:
    return f"{method}@{scale:g}"


def _summary(md: Markdown, r: dict) -> None:
    """Δm% of every method on the three benchmarks, the time per step, the paper's NYUv2 numbers."""
    proto, bench = r["protocol"], r["benchmarks"]
    columns = {"toy": [r["toy"][_toy_key(m, proto["toy"]["scale"])] for m in METHOD_ORDER]}
    columns.update({name: [bench[name]["methods"][m] for m in METHOD_ORDER] for name in BENCHMARKS})
    cells = {b: bold_best([pm(row["delta_m"], row["delta_m_std"], 1 if b == "toy" else 2) for row in rows],
                          [row["delta_m"] for row in rows]) for b, rows in columns.items()}
    best = {b: METHOD_ORDER[int(np.argmin([row["delta_m"] for row in rows]))] for b, rows in columns.items()}
    md.h(2, "1. Summary: Δm% (lower is better; mean ± std) and time per step")
    md.p("Δm% = (100/S) Σ_s (−1)^δ_s (M_s − B_s)/B_s against single-task baselines B (Maninis et al., 2019; the "
         f"paper's metric). Toy: over the {len(proto['toy']['inits'])} initial points (B = each task's "
         "single-task optimum of the offset losses); B2, B3: over seeds (B = the same seed's STL networks). "
         "ms/step: mean wall time of one training step (forward, weighting, backward, Adam; FAMO's extra forward "
         "included), relative to LS in brackets.")

    def speed(name: str, m: str) -> str:
        ms = bench[name]["methods"]
        return f"{num(ms[m]['ms_per_step'])} ({num(ms[m]['ms_per_step'] / ms['ls']['ms_per_step'])}×)"
    md.table(["method", "B1 toy Δm%", "B2 regression Δm%", "B3 digits Δm%", "ms/step B2", "ms/step B3",
              "NYUv2 Δm% (paper)"],
             [[LABELS[m], cells["toy"][i], cells["regression"][i], cells["digits"][i], speed("regression", m),
               speed("digits", m), f"{proto['paper_nyuv2'][m]:+.2f}"] for i, m in enumerate(METHOD_ORDER)])
    wins = [b for b, m in best.items() if m == "go4align"]
    md.p(f"GO4Align is best on {len(wins)} of {len(best)} benchmarks ({', '.join(wins) or 'none'}); best per "
         "benchmark: " + ", ".join(f"{b}: {LABELS[m]}" for b, m in best.items())
         + f". Goal: best on at least {proto['goal_best_on']}.")
    paper = proto["paper_nyuv2"]
    anchors = ", ".join(f"{label} {paper[m]:+.2f}" for m, label in
                        (("go4align", "GO4Align"), ("famo", "FAMO"), ("nashmtl", "Nash-MTL"), ("ls", "LS")))
    md.p(f"Anchor (the paper's Table 1, NYUv2 Δm%; not reproducible offline: it needs the data set and a GPU): "
         f"{anchors}.")


def _toy(md: Markdown, c: dict, r: dict, out: Path) -> None:
    """Where each method ends on the toy, GO4Align's scale invariance, the trajectories."""
    t, opt = r["protocol"]["toy"], r["toy_optima"]
    scales = (t["scale"], t["invariance_scale"])
    md.h(2, "2. Toy (B1): where each method ends")
    md.p("Offset losses L = f + offsets, which make both losses positive: " + "; ".join(
        f"scale {s:g}: offsets ({_point(t['offsets'][f'{s:g}'])}), single-task optima "
        f"({_nums(opt[f'{s:g}'], 4)})" for s in scales) + ". Initial points "
        + ", ".join(f"({_point(p)})" for p in t["inits"]) + f". On front: final points within "
        f"{t['front_tolerance']:g} of the Pareto set (x2 = {t['pareto_x2']:g}, |x1| ≤ {t['pareto_x1_max']:g}).")
    rows = []
    for key, run in r["toy"].items():
        fin = np.asarray(run["final"])
        rows.append([LABELS[run["method"]], f"{run['scale']:g}", _nums(fin[:, 0], 3), _nums(fin[:, 1], 2),
                     f"{run['on_front']}/{len(fin)}", _nums(run["delta_m_per_init"], 0)])
    md.table(["method", "scale", "final x1 per initial point", "final x2 per initial point", "on front",
              "Δm% per point"], rows)
    hp, points = r["hparams"]["toy"], t["invariance_points"]
    ends = {s: np.asarray(r["toy"][_toy_key("go4align", s)]["final"])[points, 0] for s in scales}
    ls_end = np.asarray(r["toy"][_toy_key("ls", t["scale"])]["final"])[points[0], 0]
    md.p(f"Scale invariance: GO4Align with K = {hp['num_groups']}, β = {hp['beta']:g} ends at x1 = "
         f"∓{num(t['go4align_x1'], 3)} from " + " and ".join(f"({_point(t['inits'][i])})" for i in points)
         + " for every loss scale; here " + "; ".join(f"scale {s:g} → {_nums(ends[s], 3)}" for s in scales)
         + f". LS at scale {t['scale']:g} goes to x1 = {num(t['ls_x1'], 3)} from the first of them (here "
         f"{num(ls_end, 3)}).")
    _plot_toy(c, r, out / TOY_PLOT)
    md.p(f"![toy trajectories]({TOY_PLOT})")


def _sci(x: float) -> str:
    """1e-8 rather than 1e-08."""
    return f"{x:g}".replace("e-0", "e-").replace("e+0", "e+")


def _point(values) -> str:
    """Coordinates as they are written: 9, −7.5, 2.1."""
    return ", ".join(f"{v:g}" for v in values)


def _nums(values, digits: int) -> str:
    return ", ".join(num(v, digits) for v in values)


def _per_task(md: Markdown, number: int, name: str, c: dict, r: dict) -> None:
    """The per-task test metrics (means over seeds) of the STL networks and every method."""
    b, digits = r["benchmarks"][name], DIGITS[name]
    md.h(2, f"{number}. {TITLES[name]}")
    md.p("Mean over seeds. STL = single-task networks (the Δm baselines).")
    names = [n.split(" (")[0].replace("MSE ", "").replace("F1 ", "") for n in b["metric_names"]]
    rows = [["STL", *(num(v, digits) for v in b["stl_mean"]), "baseline"]]
    rows += [[LABELS[m], *(num(v, digits) for v in b["methods"][m]["metrics_mean"]), num(b["methods"][m]["delta_m"])]
             for m in METHOD_ORDER]
    md.table(["method", *names, "Δm%"], rows)
    w = b["methods"]["go4align"]["final_weights_seed0"]
    md.p(f"GO4Align's weights at the last step (seed {c['seeds'][0]}): {', '.join(f'{v:.3g}' for v in w)}.")


def _hparams(md: Markdown, c: dict, r: dict) -> None:
    """The baselines' settings, GO4Align's (K, β) per benchmark and, after a selection, its grid."""
    p = r["protocol"]
    d, eps = p["defaults"], p["guarded"]["go4align"]["eps"]
    md.h(2, "5. Hyper-parameters")
    md.p(f"Baselines: the Nash-MTL / FAMO defaults (DWA window {d['dwa']['iteration_window']} steps, T = "
         f"{d['dwa']['temperature']:g}; UW log σ² with Adam lr {d['uw_lr']:g}; FAMO γ = {d['famo']['gamma']:g}, "
         f"w_lr = {d['famo']['w_lr']:g}, max_norm {d['famo']['max_norm']:g}; CAGrad c = {d['cagrad']['c']:g}; MGDA "
         f"normalisation \"{d['mgda']['normalization']}\"; PCGrad's random orders seeded). SI and GO4Align: eps = "
         f"{_sci(eps)} (a minibatch loss of B3 can underflow to zero).")
    how = "selected in this run on validation" if r["selection"] else \
        "selected earlier on validation (`pyalgo reproduce multitask --full` reruns it)"
    rows = [["toy", r["hparams"]["toy"]["num_groups"], f"{r['hparams']['toy']['beta']:g}",
             "K = M, no softmin: the scale-invariant setting", f"Adam on x, lr {c['toy_lr']:g}"]]
    for name in BENCHMARKS:
        hp, net = r["hparams"][name], p["networks"][name]
        rows.append([name, hp["num_groups"], f"{hp['beta']:g}", how, f"MLP {net['depth']} × {net['hidden']} "
                     f"ReLU, Adam lr {net['lr']:g}, batch {net['batch_size']}"])
    md.table(["benchmark", "GO4Align K", "β", "how chosen", "network"], rows)
    for name, sel in (r["selection"] or {}).items():
        md.p(f"Validation Δm% for {name} (mean ± std over seeds {c['selection_seeds']}; the last "
             f"{num(100 * p['validation_fraction'], 0)} % of the training rows held out):")
        md.table(["K", "β", "validation Δm%"],
                 [[row["num_groups"], f"{row['beta']:g}", pm(row["val_delta_m"], row["val_delta_m_std"])]
                  for row in sel["table"]])


# -- the plot -------------------------------------------------------------------------------------

def _limits(r: dict) -> List[float]:
    """Axes that hold every trajectory and the Pareto set, with a small margin."""
    t = r["protocol"]["toy"]
    pts = np.concatenate([np.asarray(run["trajectory"]).reshape(-1, 2) for run in r["toy"].values()]
                         + [np.asarray(t["inits"]), [[-t["pareto_x1_max"], t["pareto_x2"]], [t["pareto_x1_max"], 0]]])
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.04 * (hi - lo)
    return [lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]]


def _plot_toy(c: dict, r: dict, path: Path) -> None:
    """One panel per toy run: contours of f1 + f2, the Pareto set, the trajectory from each initial point."""
    t = r["protocol"]["toy"]
    keys = list(r["toy"])
    fig, axes = plots.subplots(len(keys), cols=4, size=(3.4, 3.2), sharex=True, sharey=True)
    x0, x1, y0, y1 = _limits(r)
    X1, X2 = torch.meshgrid(torch.linspace(x0, x1, 161, dtype=torch.float64),
                            torch.linspace(y0, y1, 161, dtype=torch.float64), indexing="xy")
    colours = plots.pyplot().get_cmap("tab10").colors
    for ax, key in zip(axes, keys):
        run = r["toy"][key]
        f = P.toy_losses(torch.stack([X1, X2], -1), run["scale"]).sum(-1)
        ax.contour(X1.numpy(), X2.numpy(), f.numpy(), levels=25, linewidths=0.4, colors="0.8")
        ax.plot([-t["pareto_x1_max"], t["pareto_x1_max"]], [t["pareto_x2"]] * 2, color="k", lw=3, alpha=0.4,
                label="Pareto set")
        trajectories = np.asarray(run["trajectory"])                            # (points, T, 2)
        for i, traj in enumerate(trajectories):
            ax.plot(traj[:, 0], traj[:, 1], lw=1.3, color=colours[i], label=f"from ({_point(t['inits'][i])})")
        ax.plot(trajectories[:, 0, 0], trajectories[:, 0, 1], "o", color="k", ms=3, ls="", label="start")
        ax.plot(trajectories[:, -1, 0], trajectories[:, -1, 1], "*", color="red", ms=8, ls="", label="end")
        ax.set_title(f"{LABELS[run['method']]}, scale {run['scale']:g}: Δm {num(run['delta_m'], 0)}%", fontsize=9)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    fig.supxlabel("x1")
    fig.supylabel("x2")
    fig.suptitle(f"Two-task toy: Adam trajectories ({c['toy_steps']} steps, lr {c['toy_lr']:g}); grey: contours "
                 "of f1 + f2 at the panel's scale")
    plots.legend_outside(fig, axes)
    plots.save(fig, path)
