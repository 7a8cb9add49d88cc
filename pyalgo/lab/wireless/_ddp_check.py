"""Scale-out check of the distillation lab (`pyalgo.lab.wireless`), run by
tests/test_lab_wireless_train.py as

    python -m torch.distributed.run --nproc-per-node 2 --standalone -m pyalgo.lab.wireless._ddp_check OUT_DIR

Every rank runs the single-process code unchanged: cached teacher labels (chunks shared by rank,
rank 0 writes OUT_DIR/labels), unsupervised+assist training of a small MLP (checkpoint
OUT_DIR/mlp.pt), rl+assist training of a small GNN (a DDP critic, and a student head the loss
leaves unused), and `sampler_run` in each of SAMPLER_MODES: training of a BatchNorm MLP on fresh
channels (the global batch split by rows, the teacher on each rank's rows, BatchNorm over the
global batch), which the test repeats in one process. Rank 0 writes OUT_DIR/result.pt with the world size, the
labels, the MLP's history, `sampler_run`'s result, and whether every rank ended with the same labels
and the same weights of all students.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, Tuple

import torch
import torch.distributed as dist

from pyalgo.wireless import GNNStudent, MLPStudent, rayleigh

from .distributed import shutdown
from .labels import teacher_labels
from .train import DistillConfig, train_student

K, N_TRAIN, N_EVAL, CHUNK = 4, 96, 64, 16
SAMPLER_MODES = ("unsupervised+assist", "rl")


def problem() -> Tuple[torch.Tensor, torch.Tensor]:
    """(train, eval) gains of the check, (N_TRAIN, K, K) and (N_EVAL, K, K)."""
    g = torch.Generator().manual_seed(0)
    return rayleigh(N_TRAIN, K, generator=g), rayleigh(N_EVAL, K, generator=g)


def sampler_run(mode: str) -> Dict[str, object]:
    """`mode` training of MLPStudent(K, norm="batch") on `rayleigh` batches (global batch 32, cosine
    lr): its history, weights, and its outputs on the eval channels normalised with
    their batch statistics (train mode: eval mode's running means follow the biases before BatchNorm,
    whose gradient is round-off that Adam scales up to lr-sized steps, differently in every run)."""
    torch.manual_seed(1)
    student = MLPStudent(K, hidden=(32, 32), norm="batch")
    history = train_student(student, DistillConfig(mode, epochs=2, steps_per_epoch=4, batch_size=32,
                                                   lr=1e-2, lr_schedule="cosine", seed=3),
                            channels=lambda b, g: rayleigh(b, K, generator=g), progress=False)
    state = {name: value.clone() for name, value in student.state_dict().items()}
    with torch.no_grad():
        p = student.train()(problem()[1])
    return dict(history=history, state=state, p=p, student=student)


def main(out_dir: str) -> None:
    train, evaluation = problem()
    labels = teacher_labels(train, chunk=CHUNK, cache_path=os.path.join(out_dir, "labels"), progress=False)
    torch.manual_seed(0)
    student = MLPStudent(K, hidden=(32, 32))
    history = train_student(student, DistillConfig("unsupervised+assist", epochs=6, batch_size=16, lr=1e-2),
                            channels=train, teacher=labels, eval_channels=evaluation, progress=False,
                            checkpoint=os.path.join(out_dir, "mlp.pt"))
    torch.manual_seed(0)
    gnn = GNNStudent(hidden=8, layers=2, state_head=True)     # RL: a DDP critic too; an unused head
    train_student(gnn, DistillConfig("rl+assist", epochs=2, batch_size=16, lr=1e-2), channels=train,
                  teacher=labels, progress=False)
    sampled = {mode: sampler_run(mode) for mode in SAMPLER_MODES}
    students = [student, gnn] + [run.pop("student") for run in sampled.values()]
    weights = [p.detach().flatten() for model in students for p in model.parameters()]
    mine = torch.cat([labels.p.flatten(), *weights])
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine)
    if dist.get_rank() == 0:
        torch.save(dict(world=dist.get_world_size(), labels=labels._asdict(), history=history, sampler=sampled,
                        ranks_agree=all(torch.equal(x, mine) for x in everyone)),
                   os.path.join(out_dir, "result.pt"))
    del student, gnn, sampled, students, weights, mine, everyone
    shutdown()          # reducers collected, barrier, then the group destroyed (a rare SIGABRT otherwise)


if __name__ == "__main__":
    main(sys.argv[1])
    # Nothing is left to run: skip interpreter finalisation, where a gloo thread or buffer that
    # outlived the group could still abort the process after its work is done and saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
