"""Seeds for pyalgo's counter-based (Philox) kernels.

Every sampling op takes an int64 tensor `seed = (seed, offset)` on the logits' device. It is drawn
from the caller's `torch.Generator` (the device's default generator when None), so
`torch.manual_seed` reproduces a run, and it is drawn on the device, so nothing synchronises
with the host. The kernels' random numbers are a pure function of (seed, offset, row, column,
stream): independent of thread count and launch configuration.
"""
from __future__ import annotations

import numbers
import threading

import torch

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
MAX_UNIFORMS = 2**40  # rows x cols of philox_uniform (also checked in C++)


def draw_seed(generator: torch.Generator | None, device: torch.device, fn: str = "pyalgo") -> torch.Tensor:
    """Returns a fresh (seed, offset) int64 tensor of shape (2,) on `device`. `fn` names the public
    function in the TypeError raised when `generator` is neither None nor a torch.Generator."""
    if generator is None:
        return torch.randint(_INT64_MIN, _INT64_MAX, (2,), dtype=torch.int64, device=device)
    _check_generator(generator, fn)
    seed = torch.randint(_INT64_MIN, _INT64_MAX, (2,), dtype=torch.int64, device=generator.device,
                         generator=generator)
    return seed.to(device, non_blocking=True)


_scratch = threading.local()


def draw_scratch_seed(generator: torch.Generator | None, fn: str = "pyalgo") -> torch.Tensor:
    """`draw_seed(generator, cpu)`, the same numbers, drawn into a per-thread CPU buffer that every call
    reuses (no allocation): only for CPU ops that read their seed during the call and never keep it."""
    if generator is not None:
        _check_generator(generator, fn)
        if generator.device.type != "cpu":
            return draw_seed(generator, torch.device("cpu"), fn)
    try:
        seed = _scratch.seed
    except AttributeError:
        seed = _scratch.seed = torch.empty(2, dtype=torch.int64)
    return seed.random_(_INT64_MIN, _INT64_MAX, generator=generator)  # what torch.randint draws


def _check_generator(generator: object, fn: str) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{fn}: generator must be a torch.Generator or None, got {type(generator).__name__}")


def philox_uniform(seed: torch.Tensor, rows: int, cols: int, stream: int = 0,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The uniforms in (0, 1) that pyalgo's kernels draw for `seed` at (row, column, stream).

    Useful to check a kernel against a reference fed the same noise.

    Args:
        seed: int64 tensor (2,) = (seed, offset).
        rows: rows, in [0, 2^40].
        cols: columns, in [0, 2^40]; rows x cols <= 2^40.
        stream: the stream index, in [0, 2^32).
        dtype: torch.float32 or torch.float64.

    Returns:
        (rows, cols) uniforms on `seed`'s device.

    Raises:
        TypeError: `seed`, a count or `dtype` has the wrong type.
        ValueError: a count out of range.

    Example:
        u = pyalgo.philox_uniform(torch.tensor([1, 0]), 4, 10)
    """
    from . import _ext  # noqa: F401

    fn = "pyalgo.philox_uniform"
    if not isinstance(seed, torch.Tensor):
        raise TypeError(f"{fn}: seed must be an int64 tensor of shape (2,), got {type(seed).__name__}")
    for name, value, hi in (("rows", rows, MAX_UNIFORMS), ("cols", cols, MAX_UNIFORMS), ("stream", stream, 2**32 - 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
        if not 0 <= value <= hi:
            raise ValueError(f"{fn}: {name} must be in [0, {hi}], got {value}")
    if rows * cols > MAX_UNIFORMS:
        raise ValueError(f"{fn}: rows x cols must be at most 2^40, got {rows} x {cols}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{fn}: dtype must be torch.float32 or torch.float64, got {dtype}")
    return torch.ops.pyalgo.philox_uniform(seed, rows, cols, stream, dtype)
