"""One distillation run on fresh Rayleigh channels (Sun et al.'s sampler setting), the same under
torchrun as in one process: W ranks split each global batch of `--batch-size` by rows, BatchNorm
uses the global batch's statistics, so the % of WMMSE matches the single-process run of the same
settings (up to float reduction order; the RL modes' exploration noise too).

    python -m pyalgo.lab.wireless.scaleout --K 10 --mode unsupervised --steps 2000        # one process
    torchrun --nproc-per-node 2 -m pyalgo.lab.wireless.scaleout --K 10 --mode unsupervised --steps 2000

Rank 0 prints one JSON line: world, settings, the student's % of WMMSE (and binarised) on
`--eval` held-out instances, the training sum rate of the last epoch, seconds; `--out FILE` also
saves it with the history and the student's weights (torch.save).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

import torch

from pyalgo.wireless import MLPStudent, rayleigh

from .distributed import rank_and_world, shutdown
from .losses import MODES
from .train import LR_SCHEDULES, DistillConfig, evaluate_student, train_student
from .labels import teacher_labels


RL_FIELDS = dict(critic_lr=float, explore_std=float, critic_steps=int, critic_warmup=int, barrier=float)


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m pyalgo.lab.wireless.scaleout", description=__doc__.split("\n\n")[0])
    ap.add_argument("--K", type=int, default=10)
    ap.add_argument("--mode", choices=tuple(MODES), default="unsupervised")
    ap.add_argument("--steps", type=int, default=2000, help="optimiser steps in all")
    ap.add_argument("--epochs", type=int, default=10, help="history records (steps must be a multiple)")
    ap.add_argument("--batch-size", type=int, default=256, help="the global batch (all ranks together)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="cosine")
    ap.add_argument("--norm", choices=("batch", "layer", "none"), default="batch")
    ap.add_argument("--seed", type=int, default=0)
    for name, kind in RL_FIELDS.items():
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                        help=f"DistillConfig.{name} (default: DistillConfig's)")
    ap.add_argument("--eval", type=int, default=2000, help="held-out instances (seed + 1)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--out", default=None, help="torch.save the result, history and weights here (rank 0)")
    args = ap.parse_args(argv)
    if args.steps % args.epochs:
        ap.error(f"--steps {args.steps} must be a multiple of --epochs {args.epochs}")
    return args


def run(args: argparse.Namespace) -> dict:
    """Trains MLPStudent(K, norm=...) as `args` say on `rayleigh` batches; returns rank 0's result."""
    torch.set_num_threads(args.threads)
    rank, world = rank_and_world(torch.device("cpu"))
    K = args.K
    evaluation = rayleigh(args.eval, K, generator=torch.Generator().manual_seed(args.seed + 1))
    teacher_p = teacher_labels(evaluation, progress=False).p
    torch.manual_seed(args.seed)
    student = MLPStudent(K, norm=args.norm)
    rl = {name: getattr(args, name) for name in RL_FIELDS if getattr(args, name) is not None}
    config = DistillConfig(args.mode, epochs=args.epochs, steps_per_epoch=args.steps // args.epochs,
                           batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule, seed=args.seed, **rl)
    start = time.perf_counter()
    history = train_student(student, config, channels=lambda b, g: rayleigh(b, K, generator=g), progress=False)
    seconds = time.perf_counter() - start
    score = evaluate_student(student, evaluation, teacher_p=teacher_p)
    binary = evaluate_student(student, evaluation, teacher_p=teacher_p, binarize=True)
    return dict(world=world, K=K, mode=args.mode, steps=args.steps, batch_size=args.batch_size, norm=args.norm,
                lr=args.lr, lr_schedule=args.lr_schedule, seed=args.seed, **rl,
                pct_wmmse=score["pct_teacher"], pct_wmmse_binarised=binary["pct_teacher"],
                train_sum_rate=history["train_sum_rate"][-1], seconds=round(seconds, 2),
                history=history, weights={k: v.clone() for k, v in student.state_dict().items()}, rank=rank)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse(argv)
    result = run(args)
    if result.pop("rank") == 0:
        if args.out:
            torch.save(result, args.out)
        print(json.dumps({k: v for k, v in result.items() if k not in ("history", "weights")}), flush=True)
    shutdown()


if __name__ == "__main__":
    main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:      # as _ddp_check: no gloo teardown at finalisation
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
