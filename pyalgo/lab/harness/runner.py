"""Runs a reproduction: config from a preset and overrides → `run(config, runtime)` → results.json →
report.md and plots rendered from results.json alone.

An experiment module (`pyalgo.lab.<name>.reproduce`) defines

- `TITLE`: the report's title;
- `Config`: a frozen dataclass deriving from `Preset`, with `tiny()`, `quick()` and `full()`;
- `run(config, runtime) -> dict`: computes the results (plain data; string keys), seeding every
  job from the config, never from the global RNG;
- `render(doc, out) -> str`: the Markdown report of a results document, writing its plots into `out`.
"""
from __future__ import annotations

import importlib
import os
import shlex
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import torch

from .config import Preset, override, to_dict
from .jobs import Runtime, available_cpus, torch_threads
from .results import REPORT, RESULTS, environment, read_json, write_json

EXPERIMENTS = ("discrete", "wireless", "energy", "multitask", "edge")


class OutputError(ValueError):
    """The output folder cannot be used."""


def experiment(name: str) -> ModuleType:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"pyalgo.lab.{name}.reproduce")


def prepare_out(path: Union[str, Path]) -> Path:
    """The folder, created if needed and checked writable (OutputError with one clear line if not)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OutputError(f"--out {str(path)!r} is not a writable folder ({exc.strerror or exc})") from None
    return path


def command_line(name: str, preset: str, seed: Optional[int], overrides: Sequence[str]) -> str:
    """The command that reruns this configuration."""
    parts = ["pyalgo reproduce", name, f"--{preset}" if preset in ("quick", "full") else f"--preset {preset}"]
    if seed is not None:
        parts.append(f"--seed {seed}")
    parts += [f"--set {shlex.quote(o)}" for o in overrides]
    return " ".join(parts)


def reproduce(name: str, *, preset: str = "quick", overrides: Sequence[str] = (), seed: Optional[int] = None,
              out: Union[str, Path] = "reproduce_out", workers: Optional[int] = None, threads: int = 1,
              progress: bool = True, config: Optional[Preset] = None) -> Dict[str, Any]:
    """Runs experiment `name` into the folder `out` and returns its results document (as read back
    from results.json). `config` replaces the preset (for tests and scripts); `seed` restarts every
    seed of the config from it; `overrides` are `--set key=value` strings. The caller's torch and
    numpy global RNG states and thread count are restored afterwards."""
    out = prepare_out(out)
    module = experiment(name)
    cfg = config if config is not None else module.Config.preset(preset)
    if seed is not None:
        cfg = cfg.with_seed(int(seed))
    cfg = override(cfg, overrides)
    runtime = Runtime(out=out, workers=workers or available_cpus(), threads=threads, progress=progress)
    start = time.perf_counter()
    np_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]), torch_threads(threads):
            results = module.run(cfg, runtime)
    finally:
        runtime.close()
        np.random.set_state(np_state)
    runtime.seconds["total"] = time.perf_counter() - start
    doc = {
        "experiment": name,
        "title": module.TITLE,
        "preset": preset if config is None else "custom",
        "command": command_line(name, preset, seed, overrides) if config is None else None,
        "config": to_dict(cfg),
        "environment": environment(workers=runtime.workers, threads=threads),
        "seconds": runtime.seconds,
        "results": results,
    }
    write_json(out / RESULTS, doc)
    return render(out)


def render(out: Union[str, Path]) -> Dict[str, Any]:
    """(Re)writes report.md and the plots of a run folder from its results.json; returns the document."""
    out = Path(out)
    if not (out / RESULTS).is_file():
        raise OutputError(f"{str(out)!r} holds no {RESULTS}")
    doc = read_json(out / RESULTS)
    text = experiment(doc["experiment"]).render(doc, out)
    tmp = out / (REPORT + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out / REPORT)
    return doc


def header(md: Any, doc: Dict[str, Any]) -> None:
    """The top of every report: title, preset, versions, wall time, the command that reruns it."""
    env, preset = doc["environment"], doc["preset"]
    md.h(1, doc["title"])
    wall = ", ".join(f"{k} {v:.0f} s" for k, v in doc["seconds"].items())
    md.p(f"Preset **{preset}**. pyalgo {env['pyalgo']} ({env['git_sha']}), torch {env['torch']}, Python "
         f"{env['python']}, {env['machine']}; {env['workers']} worker process(es) × {env['threads']} torch "
         f"thread(s). Wall time: {wall}.")
    if doc.get("command"):
        md.p(f"Rerun: `{doc['command']}`.")
    if preset in ("quick", "tiny"):
        md.note(f"The {preset} preset is a smoke-scale run: few steps and seeds, so differences between "
                "methods are mostly within noise. `--full` runs the paper's protocol.")
