"""Seeds for pyalgo's counter-based (Philox) kernels.

Every sampling op takes an int64 tensor `seed = (seed, offset)` on the logits' device. It is drawn
from the caller's `torch.Generator` (the device's default generator when None), so
`torch.manual_seed` reproduces a run, and it is drawn on the device, so nothing synchronises
with the host. The kernels' random numbers are a pure function of (seed, offset, row, column,
stream): independent of thread count and launch configuration.
"""
from __future__ import annotations

import torch

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def draw_seed(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Returns a fresh (seed, offset) int64 tensor of shape (2,) on `device`."""
    if generator is None:
        return torch.randint(_INT64_MIN, _INT64_MAX, (2,), dtype=torch.int64, device=device)
    seed = torch.randint(_INT64_MIN, _INT64_MAX, (2,), dtype=torch.int64, device=generator.device,
                         generator=generator)
    return seed.to(device, non_blocking=True)


def philox_uniform(seed: torch.Tensor, rows: int, cols: int, stream: int = 0,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The uniforms in (0, 1) that pyalgo's kernels draw for `seed` at (row, column, stream).

    Shape (rows, cols). Useful to check a kernel against a reference fed the same noise.
    """
    from . import _ext  # noqa: F401

    return torch.ops.pyalgo.philox_uniform(seed, rows, cols, stream, dtype)
