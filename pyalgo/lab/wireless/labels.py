"""WMMSE teacher labels for distillation, computed in chunks, cached on disk and shared by rank.

`teacher_labels(channels, cache_path=DIR)` writes every finished chunk to DIR at once (atomically)
with a fingerprint of the channels and settings; a later call with the same channels and settings
computes only the missing chunks, and a folder made for other ones is refused. A corrupt or truncated
chunk is recomputed (and rewritten) with a RuntimeWarning; a corrupt index (meta.json) rebuilds the
whole cache with a RuntimeWarning. Under torchrun the
missing chunks are shared round-robin by rank and gathered, so every rank returns the full labels.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

import torch

from pyalgo.wireless._checks import (Weights, check_dataset_weights, check_gain_values, check_gains, check_int,
                                     check_positive)
from pyalgo.wireless.ops import wmmse

from ..harness import bar
from .distributed import broadcast_from_rank0, gather, rank_and_world

__all__ = ["TeacherLabels", "teacher_labels", "run_teacher", "TEACHER_MAX_ITER", "TEACHER_TOL"]

# Sun et al. and the AD paper: 100 iterations or a sum-rate gain <= 1e-3, from p⁰ = p_max.
TEACHER_MAX_ITER, TEACHER_TOL = 100, 1e-3


class TeacherLabels(NamedTuple):
    """WMMSE teacher output for N instances: p (N, K); u, w (N, K) the state at p; iterations (N,)
    int32; trajectory (N, max_iter + 1, K) p⁰, p¹, ... (final p repeated after the stop) or None."""
    p: torch.Tensor
    u: Optional[torch.Tensor]
    w: Optional[torch.Tensor]
    iterations: Optional[torch.Tensor]
    trajectory: Optional[torch.Tensor]

    def take(self, index: Union[torch.Tensor, slice, Sequence[int]]) -> "TeacherLabels":
        """The labels of the instances `index`."""
        return TeacherLabels(*(None if x is None else x[index] for x in self))


def _concat(parts: Sequence[TeacherLabels]) -> TeacherLabels:
    return TeacherLabels(*(None if xs[0] is None else torch.cat(xs) for xs in zip(*parts)))


def rows(weights: Weights, index) -> Weights:
    """Per-instance weights (N, K) follow the instances; None and (K,) are shared."""
    return weights[index] if isinstance(weights, torch.Tensor) and weights.dim() == 2 else weights


def run_teacher(G: torch.Tensor, p_max: float, noise: float, weights: Weights, max_iter: int = TEACHER_MAX_ITER,
                tol: float = TEACHER_TOL, trajectory: bool = False) -> TeacherLabels:
    """`wmmse` on G (B, K, K) with its state (and every iterate with `trajectory`)."""
    r = wmmse(G, p_max=p_max, noise=noise, weights=weights, max_iter=max_iter, tol=tol,
              return_state=True, return_trajectory=trajectory)
    return TeacherLabels(r.p, r.u, r.w, r.iterations, r.trajectory if trajectory else None)


def _fingerprint(channels: torch.Tensor, weights: Weights, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for t in (channels, weights):
        if t is not None:
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def _chunk_file(cache_path: str, c: int) -> str:
    return os.path.join(cache_path, f"chunk_{c:06d}.pt")


def _atomic_save(obj, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _cache_status(cache_path: str, fingerprint: str, n_chunks: int) -> Union[str, List[int]]:
    """On rank 0: creates or validates the cache folder; the chunks still to compute, or an error."""
    os.makedirs(cache_path, exist_ok=True)
    meta_path = os.path.join(cache_path, "meta.json")
    meta = None
    if os.path.exists(meta_path):
        try:
            with open(meta_path, encoding="utf-8") as fh:
                meta = json.load(fh)
            if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), str):
                raise ValueError("no fingerprint")
        except (OSError, ValueError) as exc:   # JSONDecodeError and UnicodeDecodeError are ValueErrors
            warnings.warn(f"pyalgo.lab.wireless.teacher_labels: the cache index {meta_path!r} is corrupt "
                          f"({type(exc).__name__}); rebuilding the cache", RuntimeWarning, stacklevel=3)
            for name in os.listdir(cache_path):          # chunks of unknown provenance: recompute them all
                if name.startswith("chunk_") and name.endswith(".pt"):
                    os.remove(os.path.join(cache_path, name))
            meta = None
    if meta is not None:
        if meta.get("fingerprint") != fingerprint:
            return (f"cache_path {cache_path!r} holds labels for other channels or settings; "
                    "remove it or choose another cache_path")
    else:
        tmp = f"{meta_path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"fingerprint": fingerprint, "chunks": n_chunks}, fh)
        os.replace(tmp, meta_path)
    return [c for c in range(n_chunks) if not os.path.exists(_chunk_file(cache_path, c))]


def teacher_labels(channels: torch.Tensor, *, p_max: float = 1.0, noise: float = 1.0, weights: Weights = None,
                   max_iter: int = TEACHER_MAX_ITER, tol: float = TEACHER_TOL, trajectory: bool = False,
                   chunk: int = 4096, cache_path: Optional[str] = None, progress: bool = True) -> TeacherLabels:
    """WMMSE teacher labels (100 iterations, ε = 1e-3, p⁰ = p_max by default) for channels (N, K, K),
    over chunks of `chunk` instances, cached in the folder `cache_path` when given (module
    docstring). Only rank 0 writes; the folder must be visible to all ranks. `trajectory=True` also
    keeps every iterate: N·(max_iter + 1)·K values."""
    fn = "pyalgo.lab.wireless.teacher_labels"
    check_gains(fn, "channels", channels)
    check_gain_values(fn, "channels", channels)
    N, K = channels.shape[0], channels.shape[-1]
    settings = dict(p_max=check_positive(fn, "p_max", p_max), noise=check_positive(fn, "noise", noise),
                    max_iter=check_int(fn, "max_iter", max_iter), tol=check_positive(fn, "tol", tol, allow_zero=True),
                    trajectory=bool(trajectory), chunk=check_int(fn, "chunk", chunk))
    if N == 0:
        raise ValueError(f"{fn}: channels must hold at least one instance, got shape {tuple(channels.shape)}")
    check_dataset_weights(fn, weights, N, K)
    rank, world = rank_and_world(channels.device)
    n_chunks = -(-N // chunk)
    missing: Union[str, List[int]] = list(range(n_chunks))
    if cache_path is not None:
        fingerprint = _fingerprint(channels, weights, settings)
        missing = broadcast_from_rank0(_cache_status(cache_path, fingerprint, n_chunks) if rank == 0 else None, world)
        if isinstance(missing, str):
            raise ValueError(f"{fn}: {missing}")
    parts: Dict[int, TeacherLabels] = {}
    with bar(n_chunks, "WMMSE labels", progress and rank == 0, initial=n_chunks - len(missing), unit="chunk") as pbar:
        for start in range(0, len(missing), world):
            todo = missing[start:start + world]
            mine = None
            if rank < len(todo):
                sl = slice(todo[rank] * chunk, min(N, (todo[rank] + 1) * chunk))
                mine = run_teacher(channels[sl], settings["p_max"], settings["noise"], rows(weights, sl),
                                   settings["max_iter"], settings["tol"], trajectory)
            for c, part in zip(todo, gather(mine, world)):
                parts[c] = part
                if cache_path is not None and rank == 0:
                    _atomic_save(part._asdict(), _chunk_file(cache_path, c))
            pbar.update(len(todo))
    for c in range(n_chunks):
        if c not in parts:
            sl = slice(c * chunk, min(N, (c + 1) * chunk))
            part = _load_chunk(_chunk_file(cache_path, c), sl.stop - sl.start, K, settings)
            if part is None:    # corrupt or truncated: recompute (every rank alike), rank 0 rewrites it
                part = run_teacher(channels[sl], settings["p_max"], settings["noise"], rows(weights, sl),
                                   settings["max_iter"], settings["tol"], trajectory)
                if rank == 0:
                    _atomic_save(part._asdict(), _chunk_file(cache_path, c))
            parts[c] = part
    return _concat([parts[c] for c in range(n_chunks)])


def _load_chunk(path: str, rows_: int, K: int, settings: dict) -> Optional[TeacherLabels]:
    """The cached chunk at `path`, or None (with a warning) when it is corrupt, truncated or of the
    wrong shape, so that the caller recomputes it."""
    try:
        data = torch.load(path, weights_only=True)
        if not isinstance(data, dict) or set(data) != set(TeacherLabels._fields):
            raise ValueError("not a chunk of teacher labels")
        part = TeacherLabels(**data)
        if not isinstance(part.p, torch.Tensor) or tuple(part.p.shape) != (rows_, K):
            raise ValueError(f"p has shape {getattr(part.p, 'shape', None)}, expected ({rows_}, {K})")
        if (part.trajectory is not None) != settings["trajectory"]:
            raise ValueError("trajectory mismatch")
        for name, x in part._asdict().items():
            if x is not None and (not isinstance(x, torch.Tensor) or x.shape[0] != rows_):
                raise ValueError(f"{name} does not hold {rows_} rows")
        return part
    except Exception as exc:  # noqa: BLE001 - EOFError, UnpicklingError, RuntimeError (zip), ValueError
        warnings.warn(f"pyalgo.lab.wireless.teacher_labels: cached chunk {path!r} is corrupt or truncated "
                      f"({type(exc).__name__}); recomputing it", RuntimeWarning, stacklevel=3)
        return None
