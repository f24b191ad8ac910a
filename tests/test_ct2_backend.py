"""The CTranslate2 backend: converted from the same weights, cached by their hashes, the same greedy answers."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.cli import InputError
from extractor.base import GenerationSettings
from extractor.formatting import ExtractionInput
from extractor.loading import resolve_extractor
from tests.helpers import make_tiny_causal

INPUTS = [ExtractionInput(("I lost my job last week and I am scared.",), "How are you?"),
          ExtractionInput(("My sister is a nurse, and I work in retail.",)),
          ExtractionInput(("I have two kids and they keep me busy.",), "Tell me more."),
          ExtractionInput(("Thank you so much",))]


@pytest.fixture(scope="module")
def lively_model(tmp_path_factory) -> Path:
    """A tiny random Llama whose answers depend on the input (large initial weights)."""
    return make_tiny_causal(tmp_path_factory.mktemp("lively"), seed=3, init_range=1.0)


def test_float32_ctranslate2_gives_the_torch_answers(lively_model: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PESCONV_CACHE", str(tmp_path / "cache"))
    settings = GenerationSettings(max_new_tokens=12)
    torch_spec = resolve_extractor(str(lively_model), adapter="none", settings=settings)
    ct2_spec = resolve_extractor(str(lively_model), adapter="none", settings=settings, backend="ctranslate2")
    assert torch_spec.fingerprint != ct2_spec.fingerprint  # the two backends never share cached results
    assert ct2_spec.describe()["backend"] == "ctranslate2"
    expected = torch_spec.load().generate_texts(INPUTS)
    assert len(set(expected)) > 1  # the answers depend on the input: the comparison can fail
    ct2 = ct2_spec.load()
    assert ct2.generate_texts(INPUTS) == expected
    converted = list((tmp_path / "cache" / "ctranslate2").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.bin").is_file()
    stamp = (converted[0] / "model.bin").stat().st_mtime_ns
    ct2_spec.load()  # the second load reuses the conversion
    assert (converted[0] / "model.bin").stat().st_mtime_ns == stamp


def test_int8_is_its_own_cache_key(lively_model: Path):
    f32 = resolve_extractor(str(lively_model), adapter="none", backend="ctranslate2")
    int8 = resolve_extractor(str(lively_model), adapter="none", backend="ctranslate2", quantize="int8")
    assert f32.fingerprint != int8.fingerprint


@pytest.mark.parametrize("kwargs,message", [
    ({"backend": "onnx"}, "unknown --backend 'onnx'"),
    ({"backend": "ctranslate2", "dtype": "bfloat16"}, "--backend ctranslate2 computes in float32 or int8"),
])
def test_backend_errors_are_one_line(lively_model: Path, kwargs, message):
    with pytest.raises(InputError, match=message):
        resolve_extractor(str(lively_model), adapter="none", **kwargs)


def test_a_seq2seq_model_is_refused(tiny_seq2seq_dir: Path):
    with pytest.raises(InputError, match="runs decoder-only extractors"):
        resolve_extractor(str(tiny_seq2seq_dir), adapter="none", backend="ctranslate2")
