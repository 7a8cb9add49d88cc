"""pyalgo's command line: `info`, `reproduce`, `render` and `bench`.

This module imports only the standard library at start-up; torch and the lab load when a
subcommand runs, so `pyalgo --help` and `pyalgo --version` answer at once.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import List, Optional

from .version import __version__

# The lab's experiments (pyalgo.lab.harness.runner.EXPERIMENTS; repeated here so --help needs no torch;
# a test checks the two agree).
EXPERIMENTS = ("discrete", "wireless", "energy", "multitask", "edge")
PRESETS = ("tiny", "quick", "full")


def _info(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import torch

    import pyalgo
    from pyalgo.lab.harness.jobs import available_cpus

    info = pyalgo.build_info()
    rows = [
        ("pyalgo", pyalgo.__version__),
        ("torch", f"{torch.__version__} (libraries built against {info['torch_built_against']}, "
                  f"stable ABI >= {info['stable_abi']}, {info['python_abi']})"),
        ("python", platform.python_version()),
        ("machine", f"{platform.machine()}, {available_cpus()} usable cores"),
        ("CPU kernels", f"compiled; using {info['cpu_kernels']}"),
        ("CUDA kernels", f"loaded: CUDA {info['cuda_version']}, {info['cuda_archs']}" if info["cuda_kernels"]
         else "not loaded (CPU build or CPU torch)"),
        ("CUDA device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"),
        ("threads", f"{torch.get_num_threads()} (torch.get_num_threads)"),
        ("ops", ", ".join(sorted(n.split("::")[1] for n in torch._C._dispatch_get_all_op_names()
                                 if n.startswith("pyalgo::")))),
        ("experiments", ", ".join(EXPERIMENTS)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _preset(args: argparse.Namespace) -> str:
    return "full" if args.full else "quick" if args.quick else args.preset


def _reproduce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    names = args.names or list(EXPERIMENTS)
    overrides = list(args.set)
    given = [flag for flag, v in (("--labels", args.labels), ("--split", args.split), ("--folds", args.folds))
             if v is not None]
    if given and not args.dataset:
        parser.error(f"{', '.join(given)} {'works' if len(given) == 1 else 'work'} with --dataset only (e.g. `pyalgo reproduce energy --dataset "
                     f"medical.arff --labels 45 --split 0.3`)")
    if args.dataset:
        if names != ["energy"]:
            parser.error("--dataset works with energy only (e.g. `pyalgo reproduce energy --dataset my-train.arff`)")
        if args.labels is not None and args.labels < 1:
            parser.error(f"--labels must be an integer >= 1, got {args.labels}")
        if args.split is not None and not 0 < args.split < 1:
            parser.error(f"--split must be a fraction in (0, 1), got {args.split:g}")
        if args.folds is not None and args.folds < 2:
            parser.error(f"--folds must be an integer >= 2, got {args.folds}")
        # before dataset=: an ARFF without a test file is valid only once split / dataset_folds is set
        overrides += [f"{key}={v!r}" for key, v in (("labels", args.labels), ("split", args.split),
                                                     ("dataset_folds", args.folds)) if v is not None]
        overrides.append(f"dataset={args.dataset}")
    from pyalgo.lab.harness import OutputError, reproduce

    preset = _preset(args)
    for name in names:
        out = Path(args.out) / name
        start = time.perf_counter()
        if not args.quiet:
            print(f"== pyalgo reproduce {name} ({preset}) -> {out}", flush=True)
        try:
            reproduce(name, preset=preset, overrides=overrides, seed=args.seed, out=out, workers=args.workers,
                      threads=args.threads or 1, progress=not args.quiet)
        except OutputError as exc:
            print(f"pyalgo reproduce: {exc}", file=sys.stderr)
            return 2
        except ValueError as exc:
            if str(exc).startswith(("--set", "preset")):
                parser.error(str(exc))
            raise
        if not args.quiet:
            print(f"== {name}: done in {time.perf_counter() - start:.0f} s; report: {out / 'report.md'}", flush=True)
    return 0


def _render(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pyalgo.lab.harness import OutputError, render

    try:
        for folder in args.folders:
            render(folder)
            print(f"rendered {Path(folder) / 'report.md'}")
    except OutputError as exc:
        print(f"pyalgo render: {exc}", file=sys.stderr)
        return 2
    return 0


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import importlib

    from pyalgo.lab.harness import bench
    from pyalgo.lab.harness.runner import OutputError, prepare_out

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print(f"pyalgo bench: no CUDA device here (torch {torch.__version__}, CUDA build: "
                  f"{torch.version.cuda or 'no'}); nothing to run")
            return 0
    try:
        out = prepare_out(args.out)
    except OutputError as exc:
        print(f"pyalgo bench: {exc}", file=sys.stderr)
        return 2
    preset = _preset(args)
    from pyalgo.lab.harness.jobs import available_cpus

    threads = args.threads or sorted({1, available_cpus()})
    status = 0
    for name in args.names or list(EXPERIMENTS):
        module = importlib.import_module(f"pyalgo.lab.{name}.bench")
        opt = bench.Options(devices=devices, dtypes=args.dtype, threads=threads, modes=args.mode, cases=args.case,
                            quick=preset != "full", min_run_time=0.05 if preset == "tiny" else 0.2 if preset == "quick"
                            else 1.0, budget=args.budget, compile=not args.no_compile, seed=args.seed,
                            log=(lambda s: None) if args.quiet else print)
        flags = [a for a in args.argv[1:] if a not in EXPERIMENTS]
        command = " ".join(["pyalgo bench", name, *flags])
        status = max(status, bench.main(name, module, opt, out, command))
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyalgo", description="Fused CPU/CUDA PyTorch kernels for recent ML "
                                     "methods, their reproductions and benchmarks.")
    parser.add_argument("--version", action="version", version=f"pyalgo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{info,reproduce,render,bench}")
    sub.add_parser("info", help="versions, compiled kernels, threads").set_defaults(func=_info)

    def common(p: argparse.ArgumentParser, default_out: str) -> None:
        p.add_argument("names", nargs="*", metavar="NAME", help=f"which: {', '.join(EXPERIMENTS)} (default: all)")
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--quick", action="store_true", help="the quick preset (the default)")
        mode.add_argument("--full", action="store_true", help="the full preset (the paper's settings; hours)")
        mode.add_argument("--preset", choices=PRESETS, default="quick", help="tiny, quick or full")
        p.add_argument("--seed", type=int, default=None, help="start every seed from this one")
        p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
        p.add_argument("--quiet", action="store_true", help="no progress bars (so does TQDM_DISABLE=1)")

    rep = sub.add_parser("reproduce", help="reproduce the papers' headline results")
    common(rep, "reproduce_out")
    rep.add_argument("--threads", type=int, default=None, help="torch threads per job (default: 1)")
    rep.add_argument("--workers", type=int, default=None, help="worker processes (default: the usable cores)")
    rep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="change a config field, e.g. --set vae.epochs=3 --set seeds=[0,1] (repeatable)")
    rep.add_argument("--dataset", metavar="PATH",
                     help="energy: your own multilabel ARFF (train; *-test.arff beside it, or --split/--folds) or "
                          "label-ranking CSV")
    rep.add_argument("--labels", type=int, default=None, metavar="N",
                     help="with --dataset: the last N ARFF attributes are the labels (default: the XML beside the "
                          "file, a MEKA '-C N' header, or the trailing {0,1} attributes); for a CSV without the "
                          "n_samples,n_features,n_labels header: the N trailing rank columns")
    split = rep.add_mutually_exclusive_group()
    split.add_argument("--split", type=float, default=None, metavar="F",
                       help="with --dataset: a seeded hold-out, fraction F of the rows to test (no test file needed)")
    split.add_argument("--folds", type=int, default=None, metavar="K",
                       help="with --dataset: seeded K-fold CV on the file, mean ± std over the folds")
    rep.set_defaults(func=_reproduce)

    ren = sub.add_parser("render", help="rewrite report.md and the plots of run folders from their results.json")
    ren.add_argument("folders", nargs="+", metavar="DIR")
    ren.set_defaults(func=_render)

    ben = sub.add_parser("bench", help="benchmarks: pyalgo vs its reference and what users use today")
    common(ben, "bench_out")
    ben.add_argument("--threads", type=int, nargs="+", default=None,
                     help="torch thread counts to time (default: 1 and all usable cores)")
    ben.add_argument("--device", choices=("cpu", "cuda", "all"), default="cpu")
    ben.add_argument("--dtype", nargs="+", default=None, help="e.g. float32 bfloat16 (default: each case's)")
    ben.add_argument("--mode", nargs="+", default=None, choices=("forward", "backward", "forward+backward", "call"))
    ben.add_argument("--case", nargs="+", default=None, help="only these cases")
    ben.add_argument("--budget", type=float, default=5.0, help="seconds one call may take before a mode is skipped")
    ben.add_argument("--no-compile", action="store_true", help="skip the torch.compile providers")
    ben.set_defaults(func=_bench)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    sub = {a.dest: a for a in parser._subparsers._group_actions}["command"].choices[args.command]
    if extra:
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
    unknown = [n for n in getattr(args, "names", []) if n not in EXPERIMENTS]
    if unknown:
        sub.error(f"unknown {'name' if len(unknown) == 1 else 'names'} {', '.join(unknown)}; "
                  f"choose from {', '.join(EXPERIMENTS)}")
    return args.func(args, sub)


if __name__ == "__main__":
    sys.exit(main())
