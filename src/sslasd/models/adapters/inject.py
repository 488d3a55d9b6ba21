"""Wrap a model's linear layers with FC-LoRA, merge them back, and choose what trains.

The caller names the candidate layers (a backbone's ``linear_names()``, and its
``pointwise_conv_names()`` with ``lora.convs``), optionally filtered by patterns; the matching
``nn.Linear`` modules are replaced in place by :class:`FCLoRALinear`, pointwise convolutions by
:class:`FCLoRAPointwiseConv`.
:func:`merge_lora` undoes the wrapping for deployment, so the state-dict keys become the original
checkpoint's keys again.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from sslasd._common.pointwise import is_pointwise_conv
from sslasd.errors import ConfigError
from sslasd.models.adapters.lora import FCLoRALinear, FCLoRAPointwiseConv, MixingInit
from sslasd.models.adapters.mga import MachineGroupAdapter

TrainMode = Literal["frozen", "lora", "fc_lora", "full"]
TRAIN_MODES: tuple[str, ...] = ("frozen", "lora", "fc_lora", "full")
_LORA_KEYS = ("lora_A", "lora_B", "lora_G")


def match_names(names: Sequence[str], patterns: str | Sequence[str] = "all") -> list[str]:
    """The ``names`` selected by ``patterns``, in the order of ``names``.

    A pattern is one of: ``"all"`` (every name); ``"re:<regex>"`` (full match of a regular
    expression); a glob when it contains ``*``, ``?`` or ``[`` (``"blocks.*.attn.q_proj"``);
    otherwise an exact name or a dotted suffix (``"q_proj"`` matches ``"layers.0.attn.q_proj"``).

    Raises
    ------
    ConfigError
        A pattern matches no name (the message lists the names' last parts), or a regex is invalid.

    Examples
    --------
    >>> match_names(["l.0.q_proj", "l.0.fc1", "l.1.q_proj"], ["q_proj"])
    ['l.0.q_proj', 'l.1.q_proj']
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    if "all" in patterns:
        return list(names)
    selected: set[str] = set()
    for pattern in patterns:
        hits = {name for name in names if _matches(name, pattern)}
        if not hits:
            parts = sorted({name.rsplit(".", 1)[-1] for name in names})
            example = f" (e.g. {names[0]!r})" if names else ""
            raise ConfigError(
                f"lora target pattern {pattern!r} matches none of the {len(names)} candidate linear layers; "
                f"their last name parts are {parts}{example}"
            )
        selected |= hits
    return [name for name in names if name in selected]


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        try:
            return re.fullmatch(pattern[3:], name) is not None
        except re.error as err:
            raise ConfigError(f"lora target pattern {pattern!r}: invalid regular expression ({err})") from err
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.endswith("." + pattern)


def inject_lora(
    model: nn.Module,
    names: Sequence[str],
    *,
    patterns: str | Sequence[str] = "all",
    rank: int = 8,
    branches: int = 2,
    alpha: float = 16.0,
    dropout: float = 0.0,
    learn_mixing: bool = True,
    mixing_init: MixingInit = "identity",
) -> list[str]:
    """Replace the modules ``names`` (filtered by ``patterns``) by :class:`FCLoRALinear` (``nn.Linear``)
    or :class:`FCLoRAPointwiseConv` (1 x 1 ``nn.Conv2d``).

    The wrapped layers start equal to the originals (``B = 0``) and their own weights are frozen;
    nothing else in ``model`` changes its ``requires_grad`` (see :func:`set_trainable`).

    Parameters
    ----------
    model : nn.Module
        Modified in place.
    names : sequence of str
        Qualified module names that may be wrapped, e.g. ``backbone.linear_names()``.
    patterns : str or sequence of str
        Filter over ``names``, see :func:`match_names`; ``"all"`` wraps every name.
    rank, branches, alpha, dropout, learn_mixing, mixing_init
        Passed to :class:`FCLoRALinear`; ``branches=1, learn_mixing=False`` is plain LoRA.

    Returns
    -------
    list of str
        The names wrapped, in the order of ``names``.

    Raises
    ------
    ConfigError
        A name is not a module of ``model``, is neither an ``nn.Linear`` nor a pointwise
        convolution, is already wrapped, or a
        pattern matches nothing; a LoRA hyper-parameter is invalid.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> inject_lora(model, ["0", "2"], patterns=["2"], rank=2, branches=2)
    ['2']
    """
    targets = match_names(list(names), patterns)
    for name in targets:
        if not name:
            raise ConfigError("lora target '' is the model itself: wrap it with FCLoRALinear directly")
        module = _get_module(model, name)
        if isinstance(module, FCLoRALinear):
            raise ConfigError(f"lora target {name!r} is already wrapped with FC-LoRA")
        if not isinstance(module, nn.Linear) and not is_pointwise_conv(module):
            raise ConfigError(
                f"lora target {name!r}: got {type(module).__name__}, expected nn.Linear or a 1 x 1 "
                "stride-1 nn.Conv2d"
            )
    for name in targets:
        module = _get_module(model, name)
        wrapper = FCLoRALinear if isinstance(module, nn.Linear) else FCLoRAPointwiseConv
        wrapped = wrapper(
            module,  # type: ignore[arg-type]
            rank=rank,
            branches=branches,
            alpha=alpha,
            dropout=dropout,
            learn_mixing=learn_mixing,
            mixing_init=mixing_init,
        )
        _set_module(model, name, wrapped)
    return targets


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every FC-LoRA update into its linear layer and put the plain ``nn.Linear`` back.

    The state-dict keys become the original ones (``...q_proj.weight`` instead of
    ``...q_proj.base.weight``) and the forward pass costs what the original model's does.
    Modifies ``model`` in place and returns it (or the merged ``nn.Linear`` when ``model`` itself
    is an :class:`FCLoRALinear`).
    """
    if isinstance(model, FCLoRALinear):
        model.merge()
        return model.base
    wrapped = [(name, m) for name, m in model.named_modules() if isinstance(m, FCLoRALinear)]
    for name, module in wrapped:
        module.merge()
        _set_module(model, name, module.base)
    return model


def lora_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Only the FC-LoRA tensors (``lora_A``, ``lora_B``, ``lora_G``) of ``model``, keyed as in its
    ``state_dict()``, so that ``model.load_state_dict(sd, strict=False)`` restores them."""
    out: dict[str, Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, FCLoRALinear):
            prefix = f"{name}." if name else ""
            for key in _LORA_KEYS:
                out[prefix + key] = getattr(module, key).detach()
    return out


def set_trainable(model: nn.Module, mode: TrainMode) -> None:
    """Set ``requires_grad`` of every parameter of ``model`` for a fine-tuning mode.

    ``"frozen"``: nothing of the pretrained model trains (nor LoRA, if injected). ``"lora"`` /
    ``"fc_lora"`` (the same rule; plain LoRA vs FC-LoRA is decided by :func:`inject_lora`'s
    ``branches`` and ``learn_mixing``): only the LoRA parameters train. ``"full"``: everything
    trains. In every mode, parameters of :class:`MachineGroupAdapter` modules inside ``model`` train;
    heads and adapters kept outside ``model`` are not touched. A fixed mixing matrix
    (``learn_mixing=False``) is a buffer and never trains.

    Raises
    ------
    ConfigError
        Unknown ``mode``, or ``"lora"``/``"fc_lora"`` on a model without FC-LoRA layers.
    """
    if mode not in TRAIN_MODES:
        raise ConfigError(f"train mode: got {mode!r}, expected one of {list(TRAIN_MODES)}")
    lora_ids: set[int] = set()
    adapter_ids: set[int] = set()
    for module in model.modules():
        if isinstance(module, FCLoRALinear):
            lora_ids |= {id(getattr(module, key)) for key in _LORA_KEYS}
        elif isinstance(module, MachineGroupAdapter):
            adapter_ids |= {id(p) for p in module.parameters()}
    if mode in ("lora", "fc_lora") and not lora_ids:
        raise ConfigError(f"train mode {mode!r}: the model has no FC-LoRA layers; call inject_lora first")
    for param in model.parameters():
        if id(param) in adapter_ids:
            param.requires_grad_(True)
        elif id(param) in lora_ids:
            param.requires_grad_(mode != "frozen")
        else:
            param.requires_grad_(mode == "full")


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` numbers of parameter elements of ``model`` (shared ones counted once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def _get_module(model: nn.Module, name: str) -> nn.Module:
    """Resolve ``name`` through the registered children (as state-dict keys do), not attributes:
    a backbone may own a child called ``blocks`` beside its ``blocks()`` method."""
    module = model
    for part in name.split(".") if name else []:
        children = module._modules
        if part not in children or children[part] is None:
            raise ConfigError(f"lora target {name!r} is not a module of {type(model).__name__}")
        module = children[part]
    return module


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    _get_module(model, parent_name)._modules[child] = module
