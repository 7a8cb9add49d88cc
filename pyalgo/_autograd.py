"""Double backward through a reference: the fused backward kernels compute first derivatives only;
when autograd needs the graph of a backward (create_graph=True), the ops recompute their pure-torch
reference on the same inputs (and the same samples) and differentiate that."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Union

import torch


def double_backward_wanted(*tensors: Optional[torch.Tensor]) -> bool:
    """True inside a backward run with create_graph=True whose inputs or grads need a graph."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


Grads = Union[torch.Tensor, Sequence[Optional[torch.Tensor]]]


def reference_grads(inputs: Sequence[Optional[torch.Tensor]], grad: Grads,
                    fn: Callable[..., Union[torch.Tensor, Sequence[torch.Tensor]]]) -> List[Optional[torch.Tensor]]:
    """Differentiable gradients of Σ grad·fn(*inputs) w.r.t. the inputs that require grad (None for
    the others, and for inputs that are None). When `fn` returns several outputs, `grad` holds one
    gradient per output (None: that output gets none)."""
    wrt = [i for i, x in enumerate(inputs) if x is not None and x.requires_grad]
    with torch.enable_grad():
        out = fn(*inputs)
        if isinstance(out, (tuple, list)):
            pairs = [(o, g) for o, g in zip(out, grad) if g is not None]
            out, grad = [o for o, _ in pairs], [g for _, g in pairs]
        grads = torch.autograd.grad(out, [inputs[i] for i in wrt], grad, create_graph=True, allow_unused=True)
    result: List[Optional[torch.Tensor]] = [None] * len(inputs)
    for i, g in zip(wrt, grads):
        result[i] = g
    return result
