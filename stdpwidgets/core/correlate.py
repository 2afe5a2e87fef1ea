r"""Pre x post correlations through a layer: the shared kernel of every STDP update.

For a layer whose forward pass is linear in its weight, :math:`y = f(x; W)`, the STDP terms are
gradients of that forward pass with respect to :math:`W`:

* potentiation :math:`\sum_b \partial/\partial W\,\langle s^{post}_b, f(x^{pre}_b; W)\rangle`
  correlates the presynaptic *trace* with the postsynaptic *spikes*;
* depression correlates the presynaptic *spikes* with the postsynaptic *trace*.

For ``nn.Linear`` that gradient is one GEMM; for ``nn.ConvNd`` it is the convolution's
weight-gradient, which handles any stride, padding, dilation and groups with the library's
optimised kernels (no loop over kernel positions). A layer kind is one :class:`LayerKind` in
:data:`LAYER_KINDS`; :func:`register_layer_kind` adds another.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerKind", "LAYER_KINDS", "register_layer_kind", "layer_kind_of"]

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class LayerKind:
    """How STDP sees one kind of layer.

    Attributes
    ----------
    output_shape : callable(layer, pre_shape) -> shape
        The post-spike shape that fits presynaptic spikes of ``pre_shape`` (batch first);
        raises ``ValueError`` with the expected shape when ``pre_shape`` does not fit.
    correlate : callable(layer, pre, post) -> Tensor
        :math:`\\sum_{batch, positions}` post x pre, shaped like ``layer.weight``.
    correlate_steps : callable(layer, pre, post) -> Tensor
        The same for a leading time axis, one correlation per step: inputs
        ``(T, batch, ...)``, result ``(T, *layer.weight.shape)``, computed as one batched call.
    accumulate_into : callable(layer, out, pre, post, alpha) -> None, optional
        ``out += alpha * correlate(layer, pre, post)`` in place, without a weight-sized
        temporary where the kernel allows it (``addmm_`` for Linear). Default: through
        ``correlate``.
    overwrite_into : callable(layer, out, pre, post) -> None, optional
        ``out <- correlate(layer, pre, post)``, written straight into ``out`` (``mm`` with
        ``out=`` for Linear: no pass to clear it first, no temporary). Default: through
        ``correlate``.
    combine_into : callable(layer, out, base, beta, pre, post, alpha) -> None, optional
        ``out <- beta * base + alpha * correlate(layer, pre, post)`` (``out`` distinct from
        ``base``), in one call where the kernel allows it (``addmm`` for Linear). Default:
        through ``correlate``.
    """

    output_shape: Callable[[nn.Module, Shape], Shape]
    correlate: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    correlate_steps: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    accumulate_into: Optional[Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, float], None]] = None
    overwrite_into: Optional[Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], None]] = None
    combine_into: Optional[Callable[..., None]] = None

    def accumulate(self, layer: nn.Module, out: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, alpha: float) -> None:
        """``out += alpha * C(pre, post)`` in place (``out`` shaped like the weight)."""
        if self.accumulate_into is not None:
            self.accumulate_into(layer, out, pre, post, alpha)
        else:
            out.add_(self.correlate(layer, pre, post), alpha=alpha)

    def correlate_into(self, layer: nn.Module, out: torch.Tensor, pre: torch.Tensor, post: torch.Tensor) -> None:
        """``out <- C(pre, post)`` (``out`` shaped like the weight, its old values ignored)."""
        if self.overwrite_into is not None:
            self.overwrite_into(layer, out, pre, post)
        else:
            out.copy_(self.correlate(layer, pre, post))

    def combine(self, layer: nn.Module, out: torch.Tensor, base: torch.Tensor, beta: float, pre: torch.Tensor,
                post: torch.Tensor, alpha: float) -> None:
        """``out <- beta * base + alpha * C(pre, post)`` (``out`` shaped like the weight, not ``base``)."""
        if self.combine_into is not None:
            self.combine_into(layer, out, base, beta, pre, post, alpha)
        else:
            torch.mul(self.correlate(layer, pre, post), alpha, out=out).add_(base, alpha=beta)


LAYER_KINDS: Dict[Type[nn.Module], LayerKind] = {}


def register_layer_kind(module_type: Type[nn.Module], kind: LayerKind) -> None:
    """Teach STDP a new layer type (subclasses of ``module_type`` are covered too)."""
    LAYER_KINDS[module_type] = kind


def layer_kind_of(layer: nn.Module) -> LayerKind:
    """Return the :class:`LayerKind` for ``layer``; ``TypeError`` listing the supported types."""
    for cls in type(layer).__mro__:
        if cls in LAYER_KINDS:
            return LAYER_KINDS[cls]
    supported = ", ".join(f"nn.{t.__name__}" for t in LAYER_KINDS)
    raise TypeError(
        f"STDP does not support layers of type {type(layer).__name__}; supported: {supported} "
        "(and their subclasses). Register another with stdpwidgets.core.correlate.register_layer_kind."
    )


_NOTHING_TO_SET = contextlib.nullcontext()  # off CUDA: a reusable no-op (a generator context costs ~4 us a use)


def full_precision(tensor: torch.Tensor):
    """Compute in full float32 on CUDA: TF32 (on by default for cuDNN convolutions) would round
    traces to 10 mantissa bits, a relative error of about 1e-3 in every update."""
    if not tensor.is_cuda:
        return _NOTHING_TO_SET
    return _tf32_off()


@contextlib.contextmanager
def _tf32_off():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


# ----------------------------------------------------------------------------- nn.Linear


def _linear_output_shape(layer: nn.Linear, pre_shape: Shape) -> Shape:
    if len(pre_shape) < 2 or pre_shape[-1] != layer.in_features:
        raise ValueError(
            f"presynaptic spikes for {layer} must be shaped (batch, ..., {layer.in_features}), "
            f"got {tuple(pre_shape)}"
        )
    return tuple(pre_shape[:-1]) + (layer.out_features,)


def linear_rows(t: torch.Tensor) -> torch.Tensor:
    """(batch x leading axes, features) view of a Linear layer's activity; the usual 2-D
    (batch, features) as it is (a reshape costs ~2 us, and a step makes several)."""
    if t.dim() == 2:
        return t
    return t.reshape(t.shape[:-1].numel(), t.shape[-1])  # explicit: -1 is ambiguous for 0 features


def _linear_correlate(layer: nn.Linear, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    with full_precision(pre):
        return linear_rows(post).t() @ linear_rows(pre)


def _linear_correlate_steps(layer: nn.Linear, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    steps, rows = pre.shape[0], pre.shape[1:-1].numel()  # rows: batch x extra leading axes
    post_t = post.reshape(steps, rows, layer.out_features).transpose(1, 2)
    with full_precision(pre):
        return torch.bmm(post_t, pre.reshape(steps, rows, layer.in_features))


def _linear_accumulate(layer: nn.Linear, out: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, alpha: float) -> None:
    with full_precision(pre):
        out.addmm_(linear_rows(post).t(), linear_rows(pre), alpha=alpha)


def _linear_overwrite(layer: nn.Linear, out: torch.Tensor, pre: torch.Tensor, post: torch.Tensor) -> None:
    with full_precision(pre):
        torch.mm(linear_rows(post).t(), linear_rows(pre), out=out)


def _linear_combine(layer: nn.Linear, out: torch.Tensor, base: torch.Tensor, beta: float, pre: torch.Tensor,
                    post: torch.Tensor, alpha: float) -> None:
    with full_precision(pre):
        torch.addmm(base, linear_rows(post).t(), linear_rows(pre),
                    beta=beta, alpha=alpha, out=out)


register_layer_kind(
    nn.Linear,
    LayerKind(_linear_output_shape, _linear_correlate, _linear_correlate_steps, _linear_accumulate, _linear_overwrite,
              _linear_combine),
)

# ----------------------------------------------------------------------------- nn.ConvNd

_CONV_WEIGHT_GRADIENT = torch.ops.aten.convolution_backward.default  # what torch.nn.grad.convNd_weight
# calls, without its per-call argument parsing (half the cost of a small convolution's call)


@dataclass(frozen=True)
class _ConvGeometry:
    """What a convolution's weight-gradient needs of its layer, worked out once per setting."""

    pads: Tuple[Tuple[int, int], ...]  # (left, right) input padding per spatial dimension
    pre_pad: Optional[List[int]]  # F.pad's argument when the kernel cannot pad by itself, else None
    pad_mode: str  # F.pad's mode
    padding: List[int]  # the padding left to the kernel
    stride: List[int]
    dilation: List[int]
    output_padding: List[int]  # zeros: the kernel's argument, made once


def _cached(cache: dict, key: tuple, work_out: Callable[[], Any]) -> Any:
    """``cache[key]``, worked out on a miss (a result that raises is not kept). The keys are a
    layer's current settings, read at every call since they can be changed between steps; one
    replaced by something unhashable (a list) is worked out every time."""
    try:
        value = cache.get(key)
    except TypeError:
        return work_out()
    if value is None:
        if len(cache) >= 1024:  # settings and shapes come and go: keep the cache small
            cache.clear()
        value = cache[key] = work_out()
    return value


_GEOMETRIES: Dict[tuple, _ConvGeometry] = {}


def _conv_geometry(layer: nn.modules.conv._ConvNd) -> _ConvGeometry:
    """The layer's geometry, from a cache keyed by its settings."""
    key = (layer.kernel_size, layer.stride, layer.padding, layer.dilation, layer.padding_mode)
    return _cached(_GEOMETRIES, key, lambda: _make_geometry(layer))


def _make_geometry(layer: nn.modules.conv._ConvNd) -> _ConvGeometry:
    n = len(layer.kernel_size)
    if layer.padding == "valid":
        pads = [(0, 0)] * n
    elif layer.padding == "same":
        pads = []
        for k, d in zip(layer.kernel_size, layer.dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))  # extra padding goes right, as in ATen
    else:
        pads = [(p, p) for p in layer.padding]
    if layer.padding_mode == "zeros" and all(left == right for left, right in pads):
        pre_pad, padding = None, [left for left, _ in pads]  # the weight-gradient kernel pads with zeros itself
    else:
        pre_pad, padding = [p for left_right in reversed(pads) for p in left_right], [0] * n
    mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
    return _ConvGeometry(tuple(pads), pre_pad, mode, padding, list(layer.stride), list(layer.dilation), [0] * n)


def _conv_pads(layer: nn.modules.conv._ConvNd) -> Tuple[Tuple[int, int], ...]:
    """(left, right) input padding per spatial dimension, as the layer's forward applies it."""
    return _conv_geometry(layer).pads


_OUTPUT_SHAPES: Dict[tuple, Shape] = {}


def _conv_output_shape(layer: nn.modules.conv._ConvNd, pre_shape: Shape) -> Shape:
    """The post shape for ``pre_shape``, from a cache keyed by the shape and the layer's
    settings (a shape that does not fit raises every time)."""
    key = (tuple(pre_shape), layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
           layer.padding, layer.dilation, layer.padding_mode)
    return _cached(_OUTPUT_SHAPES, key, lambda: _work_out_output_shape(layer, pre_shape))


def _work_out_output_shape(layer: nn.modules.conv._ConvNd, pre_shape: Shape) -> Shape:
    n = len(layer.kernel_size)
    expected = f"(batch, {layer.in_channels}, " + ", ".join(["L"] * n) + ")"
    if len(pre_shape) != n + 2 or pre_shape[1] != layer.in_channels:
        raise ValueError(
            f"presynaptic spikes for {type(layer).__name__}({layer.extra_repr()}) must be shaped "
            f"{expected} with a batch axis, got {tuple(pre_shape)}"
        )
    out = []
    for size, (left, right), k, d, s in zip(
        pre_shape[2:], _conv_pads(layer), layer.kernel_size, layer.dilation, layer.stride
    ):
        span = size + left + right - d * (k - 1)
        if span < 1:
            raise ValueError(
                f"presynaptic spikes of spatial size {tuple(pre_shape[2:])} are smaller than the "
                f"dilated kernel of {type(layer).__name__}({layer.extra_repr()})"
            )
        out.append((span - 1) // s + 1)
    if layer.padding_mode in ("reflect", "circular"):
        # F.pad's limits: reflect needs padding < size, circular padding <= size
        for size, (left, right) in zip(pre_shape[2:], _conv_pads(layer)):
            limit = size - 1 if layer.padding_mode == "reflect" else size
            if max(left, right) > limit:
                raise ValueError(
                    f"{layer.padding_mode} padding {max(left, right)} of {type(layer).__name__}"
                    f"({layer.extra_repr()}) needs presynaptic spikes of spatial size > "
                    f"{max(left, right) - (1 if layer.padding_mode == 'circular' else 0)} in every "
                    f"dimension, got {tuple(pre_shape[2:])}; use larger inputs, less padding or "
                    "padding_mode='zeros'"
                )
    return (pre_shape[0], layer.out_channels, *out)


_PLACEHOLDERS: Dict[tuple, torch.Tensor] = {}


def _weight_placeholder(weight_shape: Tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """A tensor of the weight's shape, dtype and device that holds one element (expanded):
    convolution_backward reads only its shape; kept per shape (making one costs ~10 us)."""
    key = (weight_shape, like.dtype, like.device)
    return _cached(_PLACEHOLDERS, key, lambda: like.new_empty(1).expand(weight_shape))


def _weight_gradient(layer: nn.modules.conv._ConvNd, pre: torch.Tensor, post: torch.Tensor,
                     weight_shape: Sequence[int], groups: int) -> torch.Tensor:
    """The convolution's weight-gradient for presynaptic ``pre`` and "output gradient" ``post``,
    with the input padded as the forward pass pads it (``torch.nn.grad.convNd_weight``)."""
    geometry = _conv_geometry(layer)
    if geometry.pre_pad is not None:
        pre = F.pad(pre, geometry.pre_pad, mode=geometry.pad_mode)
    placeholder = _weight_placeholder(tuple(weight_shape), post)
    with full_precision(pre):
        return _CONV_WEIGHT_GRADIENT(post, pre, placeholder, None, geometry.stride, geometry.padding,
                                     geometry.dilation, False, geometry.output_padding, groups,
                                     [False, True, False])[1]


def _conv_correlate(layer: nn.modules.conv._ConvNd, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    return _weight_gradient(layer, pre, post, layer.weight.shape, layer.groups)


def _conv_correlate_steps(layer: nn.modules.conv._ConvNd, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    # Fold time into channel groups: step t's channels form groups t*g .. t*g+g-1, so one
    # grouped weight-gradient returns every step's correlation side by side.
    steps, batch = pre.shape[:2]
    spatial_pre, spatial_post = pre.shape[3:], post.shape[3:]
    pre_b = pre.transpose(0, 1).reshape(batch, steps * layer.in_channels, *spatial_pre)
    post_b = post.transpose(0, 1).reshape(batch, steps * layer.out_channels, *spatial_post)
    weight_shape = (steps * layer.out_channels, *layer.weight.shape[1:])
    grad = _weight_gradient(layer, pre_b, post_b, weight_shape, layer.groups * steps)
    return grad.reshape(steps, *layer.weight.shape)


for _conv_type in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
    register_layer_kind(
        _conv_type, LayerKind(_conv_output_shape, _conv_correlate, _conv_correlate_steps)
    )
