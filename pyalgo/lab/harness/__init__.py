"""The lab's harness: config presets, jobs and threads, checkpoints and the training loop,
results.json and reports, plots, and the benchmark runner. See `runner` for the experiment protocol
and `bench` for the benchmark protocol."""
from .checkpoint import Checkpoint, CheckpointError, CheckpointMismatch, GlobalTorchRNG, TrainState, fit, numpy_rng_state, set_numpy_rng_state
from .config import PRESETS, Preset, override
from .jobs import Runtime, available_cpus, bar, run_jobs, torch_threads
from .results import Markdown, bold_best, mean_std, num, pm
from .runner import EXPERIMENTS, OutputError, header, render, reproduce

__all__ = ["Checkpoint", "CheckpointError", "CheckpointMismatch", "GlobalTorchRNG", "TrainState", "fit", "numpy_rng_state", "set_numpy_rng_state",
           "PRESETS", "Preset", "override", "Runtime", "available_cpus", "bar", "run_jobs", "torch_threads",
           "Markdown", "bold_best", "mean_std", "num", "pm", "EXPERIMENTS", "OutputError", "header", "render",
           "reproduce"]
