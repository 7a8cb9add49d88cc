"""One training loop with checkpoints, for every trainer of the lab (distillation, energy, edge).

A checkpoint is `{"config": plain data, "epoch": int, "history": {...}, "state": {...}}` saved
atomically (written beside, then renamed) and loaded with `torch.load(weights_only=True)`: it may
hold tensors and plain Python data only, never pickled objects. Resuming compares the saved config
with the current one and refuses, naming the keys that differ, rather than mixing two runs.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import numpy as np
import torch

from .config import diff

PathLike = Union[str, Path]


class CheckpointMismatch(ValueError):
    """The checkpoint on disk was made with another config (or holds more epochs than asked for)."""


class CheckpointError(ValueError):
    """The checkpoint on disk cannot be read: corrupt, truncated, or not a checkpoint of the lab."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def plain(x: Any) -> Any:
    """x as JSON-shaped plain data (tuples as lists, numpy scalars as Python numbers)."""
    return json.loads(json.dumps(x, default=_default))


def _default(x: Any) -> Any:
    if isinstance(x, (np.generic,)):
        return x.item()
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not plain data: {type(x).__name__}")


class Checkpoint:
    """The checkpoint file of one run; `config` is the run's settings as plain data (a dict)."""

    def __init__(self, path: PathLike, config: Mapping[str, Any], owner: str = "pyalgo.lab"):
        self.path = Path(path)
        self.config = plain(dict(config))
        self.owner = owner

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, epoch: int, history: Mapping[str, List[float]], state: Mapping[str, Any]) -> None:
        """Writes the checkpoint beside the file, flushes it to disk, then renames it over the file (a
        kill at any point leaves either the previous checkpoint or the new one, never a partial file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            torch.save({"config": self.config, "epoch": int(epoch), "history": {k: list(v) for k, v in history.items()},
                        "state": dict(state)}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def corrupt(self, why: str) -> CheckpointError:
        return CheckpointError(f"{self.owner}: checkpoint {str(self.path)!r} is corrupt or truncated ({why}); "
                               "delete it or use another checkpoint path")

    def load(self, map_location: Any = None) -> Dict[str, Any]:
        """The saved checkpoint; CheckpointMismatch if it was made with another config, CheckpointError
        (one line naming the file) if it cannot be read."""
        try:
            saved = torch.load(self.path, map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - EOFError, UnpicklingError, RuntimeError (zip), ...
            raise self.corrupt(_first_line(exc)) from None
        if not isinstance(saved, dict) or not {"config", "epoch", "history", "state"} <= set(saved):
            raise self.corrupt("not a checkpoint of pyalgo.lab: expected the keys config, epoch, history, state")
        epoch, history = saved["epoch"], saved["history"]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0 or not isinstance(history, dict) \
                or not isinstance(saved["config"], dict) or not isinstance(saved["state"], dict):
            raise self.corrupt("malformed epoch, config, history or state")
        if any(not isinstance(v, list) or len(v) > epoch + 1 for v in history.values()) \
                or len(history.get("seconds", [None] * (epoch + 1))) != epoch + 1:
            raise self.corrupt(f"the history does not hold {epoch + 1} epochs")
        changed = diff(saved["config"], self.config)
        if changed:
            raise CheckpointMismatch(f"{self.owner}: checkpoint {str(self.path)!r} was made with other settings "
                                     f"({'; '.join(changed)}); use another checkpoint path or resume=False")
        return saved


class TrainState:
    """The named parts of a training run that a checkpoint must restore: modules, optimisers,
    schedulers (anything with state_dict / load_state_dict) and torch Generators. Numpy generators
    and other objects provide `state_dict` / `load_state_dict` returning tensors and plain data."""

    def __init__(self, **parts: Any):
        self.parts = parts

    def state_dict(self) -> Dict[str, Any]:
        out = {}
        for name, part in self.parts.items():
            out[name] = part.get_state() if isinstance(part, torch.Generator) else part.state_dict()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        missing = set(self.parts) - set(state)
        if missing:
            raise CheckpointMismatch(f"the checkpoint lacks the state of {sorted(missing)}")
        for name, part in self.parts.items():
            if isinstance(part, torch.Generator):
                part.set_state(state[name].cpu())  # a generator's state is a CPU byte tensor, whatever map_location
            else:
                part.load_state_dict(state[name])


class GlobalTorchRNG:
    """The CPU global torch RNG as a TrainState part (for code that draws from it, such as dropout or
    layer initialisation inside a run)."""

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {"state": torch.get_rng_state()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        torch.set_rng_state(state["state"])


def numpy_rng_state(rng: np.random.Generator) -> Dict[str, Any]:
    """A numpy Generator's state as plain data (its bit generator's dict of ints and strings)."""
    return plain(rng.bit_generator.state)


def set_numpy_rng_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    rng.bit_generator.state = dict(state)


def fit(epochs: int, run_epoch: Callable[[int], Mapping[str, float]], *, state: TrainState,
        checkpoint: Optional[Checkpoint] = None, resume: bool = False, every: int = 1, desc: str = "",
        progress: bool = True, log: Optional[Callable[[Dict[str, float]], None]] = None,
        map_location: Any = None, name: str = "") -> Dict[str, List[float]]:
    """Runs `run_epoch(epoch)` for epochs [start, epochs) and returns the history {column: per-epoch values}.

    Each epoch's record (a flat dict of numbers) is appended to the history, with `seconds` (wall time
    since the run began, across resumes). With a `checkpoint`, `state` and the history are saved every
    `every` epochs and after the last; `resume=True` continues from the saved epoch, exactly: all
    randomness must live in generators that `state` holds. A non-finite `loss` ends the run with
    FloatingPointError naming `name` (the trainer's public path; `desc` labels the progress bar)."""
    from .jobs import bar

    who = name or desc or "pyalgo.lab.harness.fit"
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"{who}: epochs must be an integer >= 0, got {epochs!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"{who}: checkpoint every must be an integer >= 1, got {every!r}")
    history: Dict[str, List[float]] = {}
    start, elapsed = 0, 0.0
    if resume and checkpoint is not None and checkpoint.exists():
        saved = checkpoint.load(map_location)
        if saved["epoch"] + 1 > epochs:
            raise CheckpointMismatch(
                f"{checkpoint.owner}: checkpoint {str(checkpoint.path)!r} already holds {saved['epoch'] + 1} epochs, "
                f"more than epochs={epochs} (epochs: {saved['epoch'] + 1} -> {epochs}); a run can be extended, not "
                "shortened: ask for at least as many epochs, or use another checkpoint path or resume=False")
        try:
            state.load_state_dict(saved["state"])
        except CheckpointMismatch as exc:
            raise checkpoint.corrupt(str(exc)) from None
        except (KeyError, ValueError, TypeError, RuntimeError, AttributeError, IndexError) as exc:
            raise checkpoint.corrupt("its training state does not load: " + _first_line(exc)) from None
        history = {k: list(v) for k, v in saved["history"].items()}
        start = saved["epoch"] + 1
        elapsed = history["seconds"][-1] if history.get("seconds") else 0.0
    t0 = time.perf_counter() - elapsed
    with bar(epochs, desc, progress, initial=start) as pbar:
        for epoch in range(start, epochs):
            record = dict(run_epoch(epoch))
            if "loss" in record and not math.isfinite(record["loss"]):
                raise FloatingPointError(f"{name or desc or 'training'}: loss became {record['loss']} at epoch {epoch}")
            record["seconds"] = time.perf_counter() - t0
            for key, value in record.items():
                history.setdefault(key, []).append(value)
            if checkpoint is not None and ((epoch + 1) % every == 0 or epoch + 1 == epochs):
                checkpoint.save(epoch, history, state.state_dict())
            pbar.update()
            if log is not None:
                log(record)
    return history
