"""The lab of algorithm distillation for wireless power control (Ma et al., arXiv 2308.07511):

- `train` (`train_student`, `DistillConfig`, `evaluate_student`): the trainer of the students and
  critics of `pyalgo.wireless`, with checkpoints, exact resume and torchrun;
- `losses`: the five training modes as a table of losses, the assistance term, the β schedules;
- `labels`: the WMMSE teacher's labels, chunked, cached on disk and shared by rank;
- `data`, `distributed`: the batches (dataset or sampler, sharded by rank) and torch.distributed;
- `reproduce`: `pyalgo reproduce wireless`; `bench`: `pyalgo bench wireless`.
"""
from .labels import TeacherLabels, teacher_labels
from .losses import ASSISTS, BETA_SCHEDULES, MODES, assist_loss, beta_at
from .train import OPTIMIZERS, DistillConfig, evaluate_student, train_student

__all__ = ["DistillConfig", "train_student", "evaluate_student", "teacher_labels", "TeacherLabels", "assist_loss",
           "beta_at", "MODES", "ASSISTS", "BETA_SCHEDULES", "OPTIMIZERS"]
