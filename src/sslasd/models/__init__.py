"""Neural network parts: backbones, adapters (FC-LoRA, MGA), heads, and the embedder that joins them."""
