"""Comparisons of emulated CUDA results with the CPU launcher's: bitwise, or within a stated
number of units in the last place (ulp) where the two compute in a different order."""
from __future__ import annotations

import torch

_INT = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16,
        torch.bfloat16: torch.int16}


def ulp_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b| in ulps of their dtype (int64), elementwise; NaN vs NaN is 0, NaN vs number huge."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    a, b = a.contiguous(), b.contiguous()
    it = _INT[a.dtype]
    ia, ib = a.view(it).to(torch.int64), b.view(it).to(torch.int64)
    bits = torch.finfo(a.dtype).bits
    sign = 1 << (bits - 1)
    # Map the sign-magnitude encoding to a monotone integer line (-0 and +0 both map to 0).
    ia = torch.where(ia < 0, -(ia + sign) if bits < 64 else -(ia & (sign - 1)), ia)
    ib = torch.where(ib < 0, -(ib + sign) if bits < 64 else -(ib & (sign - 1)), ib)
    d = (ia - ib).abs()
    both_nan = a.isnan() & b.isnan()
    one_nan = a.isnan() ^ b.isnan()
    d = torch.where(both_nan, torch.zeros_like(d), d)
    return torch.where(one_nan, torch.full_like(d, 1 << 40), d)


def assert_ulp(actual: torch.Tensor, expected: torch.Tensor, max_ulp: int, what: str = "") -> None:
    """Every element within max_ulp ulps (0 = bitwise, NaN positions equal)."""
    d = ulp_distance(actual, expected)
    worst = int(d.max()) if d.numel() else 0
    if worst > max_ulp:
        i = int(d.flatten().argmax())
        raise AssertionError(f"{what}: {worst} ulp > {max_ulp} at flat index {i}: emulated "
                             f"{actual.flatten()[i].item()!r} vs CPU {expected.flatten()[i].item()!r}")


def assert_close_or_ulp(actual: torch.Tensor, expected: torch.Tensor, max_ulp: int, atol: float,
                        what: str = "") -> None:
    """Within max_ulp ulps, or within atol absolutely (for values that cancel to near zero)."""
    d = ulp_distance(actual, expected)
    near = (actual.double() - expected.double()).abs() <= atol
    bad = (d > max_ulp) & ~near
    if bool(bad.any()):
        i = int(bad.flatten().nonzero()[0])
        raise AssertionError(f"{what}: {int(d.flatten()[i])} ulp > {max_ulp} and |diff| > {atol} at flat index "
                             f"{i}: emulated {actual.flatten()[i].item()!r} vs CPU {expected.flatten()[i].item()!r}")
