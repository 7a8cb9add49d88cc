"""Command line: `pyalgo info`, `pyalgo bench [name]`, `pyalgo reproduce [name] [--quick|--full]`.

Each method registers its benchmark script (bench/bench_<name>.py in the source checkout) and
its reproduction entry point in METHODS; later methods add their names here.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

# name -> (module with run(quick, out_dir), benchmark script name)
METHODS = {
    "discrete": ("pyalgo.discrete.reproduce", "bench_discrete.py"),
    "wireless": ("pyalgo.wireless.reproduce", "bench_wireless.py"),
    "energy": ("pyalgo.energy.reproduce", "bench_energy.py"),
    "multitask": ("pyalgo.multitask.reproduce", "bench_multitask.py"),
    "edge": ("pyalgo.edge.reproduce", "bench_edge.py"),
}
# methods whose reproduction also runs on a user's dataset (`--dataset PATH`)
TAKES_DATASET = {"energy"}


def _info(_args) -> int:
    import torch

    import pyalgo

    info = pyalgo.build_info()
    rows = [
        ("pyalgo", pyalgo.__version__),
        ("torch", f"{torch.__version__} (extension built against {info['torch_built_against']})"),
        ("python", platform.python_version()),
        ("machine", f"{platform.machine()}, {os.cpu_count()} logical cores"),
        ("CPU kernels", f"compiled; using {info['cpu_kernels']}"),
        ("CUDA kernels", f"compiled for {info['cuda_archs']}" if info["cuda_kernels"] else "not compiled"),
        ("CUDA device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"),
        ("threads", f"{torch.get_num_threads()} (torch.get_num_threads)"),
        ("ops", ", ".join(sorted(n.split("::")[1] for n in torch._C._dispatch_get_all_op_names()
                                 if n.startswith("pyalgo::")))),
        ("methods", ", ".join(METHODS)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _find_bench(script: str) -> Path | None:
    """bench/ lives in the source checkout, next to the pyalgo package or in the working dir."""
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        candidate = root / "bench" / script
        if candidate.is_file():
            return candidate
    return None


def _bench(args) -> int:
    names = [args.name] if args.name else list(METHODS)
    for name in names:
        path = _find_bench(METHODS[name][1])
        if path is None:
            print(f"pyalgo bench: bench/{METHODS[name][1]} not found; run from the source checkout "
                  "(benchmarks are not shipped in the wheel)", file=sys.stderr)
            return 2
        spec = importlib.util.spec_from_file_location(f"pyalgo_bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(args.rest)
    return 0


def _reproduce(args) -> int:
    names = [args.name] if args.name else list(METHODS)
    quick = not args.full
    if args.dataset and (args.name not in TAKES_DATASET):
        print(f"pyalgo reproduce: --dataset works with {', '.join(sorted(TAKES_DATASET))} "
              f"(e.g. `pyalgo reproduce energy --dataset my-train.arff`)", file=sys.stderr)
        return 2
    for name in names:
        out_dir = Path(args.out) / name
        extra = {"dataset": args.dataset} if args.dataset else {}
        start = time.perf_counter()
        print(f"== pyalgo reproduce {name} ({'quick' if quick else 'full'}) -> {out_dir}")
        importlib.import_module(METHODS[name][0]).run(quick=quick, out_dir=str(out_dir), **extra)
        print(f"== {name}: done in {time.perf_counter() - start:.0f} s; report: {out_dir / 'report.md'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pyalgo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, compiled kernels, threads").set_defaults(func=_info)

    bench = sub.add_parser("bench", help="run a benchmark (from the source checkout)")
    bench.add_argument("name", nargs="?", choices=sorted(METHODS))
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark script")
    bench.set_defaults(func=_bench)

    rep = sub.add_parser("reproduce", help="reproduce a paper's headline result")
    rep.add_argument("name", nargs="?", choices=sorted(METHODS))
    mode = rep.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="minutes on 2 CPU cores (default)")
    mode.add_argument("--full", action="store_true", help="the paper's settings (hours)")
    rep.add_argument("--out", default="reproduce_out", help="output folder (default: reproduce_out)")
    rep.add_argument("--dataset", metavar="PATH",
                     help="energy: run on your own multilabel ARFF (train; *-test.arff beside it) or label-ranking CSV")
    rep.set_defaults(func=_reproduce)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
