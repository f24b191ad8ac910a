"""Persona-aware response models trained on the PESConv shards (paper §3.3-§3.4).

- `modeling.pal`: the PAL encoder-decoder (co-attention, Eq. 2-4) and its Blenderbot baselines;
- `modeling.decoder_only`: the decoder-only variant (persona in the prompt) for SmolLM2 on CPU;
- `modeling.guidance`: strategy-based controllable decoding (Eq. 6), two passes, two KV caches;
- `modeling.data`: shards -> one example per supporter turn -> token ids (datasets.map, cached);
- `modeling.strategies`: the 8 strategy special tokens and the per-strategy alpha table.
"""
