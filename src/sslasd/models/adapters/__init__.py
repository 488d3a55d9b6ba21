"""Parameter-efficient fine-tuning parts: FC-LoRA (and its injection/merging) and the
Machine-aware Group Adapter with the hooks that run it after backbone blocks."""

from sslasd.models.adapters.hooks import (
    AdapterHooks,
    attach_block_adapters,
    current_machine_ids,
    machine_context,
)
from sslasd.models.adapters.inject import (
    count_parameters,
    inject_lora,
    lora_state_dict,
    match_names,
    merge_lora,
    set_trainable,
)
from sslasd.models.adapters.lora import FCLoRALinear, FCLoRAPointwiseConv
from sslasd.models.adapters.mga import MachineGroupAdapter

__all__ = [
    "AdapterHooks",
    "FCLoRALinear",
    "FCLoRAPointwiseConv",
    "MachineGroupAdapter",
    "attach_block_adapters",
    "count_parameters",
    "current_machine_ids",
    "inject_lora",
    "lora_state_dict",
    "machine_context",
    "match_names",
    "merge_lora",
    "set_trainable",
]
