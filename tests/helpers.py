"""Small real inputs for tests: tiny randomly initialised models built from configs, real dialogs."""
from __future__ import annotations

import json
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ESCONV = SHARED / "data" / "esconv"
PERSONACHAT_CSV = SHARED / "data" / "personachat" / "valid.csv"
SYNTHETIC_CSV = SHARED / "data" / "synthetic-persona-chat" / "valid.csv"
BLENDERBOT_DIR = SHARED / "models" / "blenderbot_small-90M"


def real_dialog_lines(split: str = "valid", n: int = 4) -> list[str]:
    """The first `n` raw JSON lines of a real ESConv split file."""
    with open(ESCONV / f"{split}.json", encoding="utf-8") as f:
        return [next(f) for _ in range(n)]


def write_esconv_folder(folder: Path, per_split: dict[str, int]) -> Path:
    """A split-file ESConv folder made of the first dialogs of each real split file."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in per_split.items():
        (folder / f"{split}.json").write_text("".join(real_dialog_lines(split, n)), encoding="utf-8")
    return folder


def _tokenizer():
    from transformers import BlenderbotSmallTokenizer

    from extractor.formatting import SPECIAL_TOKENS

    tok = BlenderbotSmallTokenizer.from_pretrained(BLENDERBOT_DIR)
    tok.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    return tok


def make_tiny_causal(folder: Path, seed: int = 0, init_range: float = 0.02) -> Path:
    """A 1-layer Llama with the BlenderbotSmall tokenizer, random weights, saved as safetensors.
    A large `init_range` makes its answers depend on the input (at 0.02 every prompt gets the same)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         initializer_range=init_range)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def make_tiny_seq2seq(folder: Path, seed: int = 0) -> Path:
    """A 1-layer BART with the BlenderbotSmall tokenizer (+ <sep>/<persona>), random weights."""
    from transformers import BartConfig, BartForConditionalGeneration

    tok = _tokenizer()
    torch.manual_seed(seed)
    config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_position_embeddings=1024, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        decoder_start_token_id=tok.bos_token_id, forced_eos_token_id=None)
    model = BartForConditionalGeneration(config)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def read_manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())
