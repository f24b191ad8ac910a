"""Shared fixtures: tiny extractor models and one small real build reused by many tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_tiny_causal, make_tiny_seq2seq, write_esconv_folder

# Fast settings for tiny random models: short generations, small batches.
TINY_BUILD_ARGS = ["--max-new-tokens", "8", "--batch-size", "4", "--progress-every", "1"]


@pytest.fixture(scope="session")
def tiny_causal_dir(tmp_path_factory) -> Path:
    return make_tiny_causal(tmp_path_factory.mktemp("tiny_causal"))


@pytest.fixture(scope="session")
def tiny_seq2seq_dir(tmp_path_factory) -> Path:
    return make_tiny_seq2seq(tmp_path_factory.mktemp("tiny_seq2seq"))


@pytest.fixture(scope="session")
def small_esconv(tmp_path_factory) -> Path:
    """Real dialogs in the split-file layout: 3 train, 2 valid, 2 test."""
    return write_esconv_folder(tmp_path_factory.mktemp("esconv"), {"train": 3, "valid": 2, "test": 2})


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory, tiny_causal_dir, small_esconv) -> Path:
    """A finished PESConv build (standard split) of `small_esconv` with the tiny causal extractor.

    A random model's sentences have no support in the seeker's words: `--keep-unsupported` keeps them,
    so the persona fields are filled for the tests that read them."""
    from pipelines.build_pesconv import main

    out = tmp_path_factory.mktemp("build")
    code = main(["--input", str(small_esconv), "--output", str(out), "--extractor", str(tiny_causal_dir),
                 "--keep-unsupported", *TINY_BUILD_ARGS])
    assert code == 0
    return out


def pytest_collection_modifyitems(items):
    """A test that reads a whole build (the `tiny_build` fixture) is a slow test, like the builds it needs."""
    for item in items:
        if "tiny_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
