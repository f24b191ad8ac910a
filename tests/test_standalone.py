"""P(a persona sentence reads without its dialog): the shipped scorer, its training command and its errors."""
from __future__ import annotations

import json
import shutil

import pytest

from common.cli import InputError
from extractor.standalone import WEIGHTS, StandaloneScorer
from research.standalone_labels import held_out, labelled, main, parts


def test_the_shipped_scorer_ranks_a_fact_above_a_sentence_that_needs_the_dialog():
    scorer = StandaloneScorer.load()
    alone, needs = scorer.probability(["I have two kids and a full time job.", "I have sent them a few emails about it."])
    assert alone > 0.8 > 0.2 > needs
    assert scorer.probability([]) == []
    saved = json.loads(WEIGHTS.read_text())
    assert saved["held_out_auc"] > 0.8 and len(saved["weights"]) == 384


def test_a_damaged_weights_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "standalone.json"
    bad.write_text('{"weights": [0.1, 0.2], "bias": 0.0}')
    with pytest.raises(InputError, match="holds 2 weights, not 384"):
        StandaloneScorer.load(bad)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="cannot read the standalone scorer"):
        StandaloneScorer.load(bad)


def test_labels_are_split_by_dialog_and_a_trained_scorer_is_measured_on_the_dialogs_it_never_saw(tmp_path, capsys):
    from research.standalone_labels import LABELS

    for name in ("blind_audit_v14.tsv", "blind_audit_v13.tsv", "blind_audit_v15.tsv"):
        shutil.copy(LABELS / name, tmp_path / name)
        shutil.copy(LABELS / f"{name}.key.json", tmp_path / f"{name}.key.json")
    rows = labelled(tmp_path)
    without_check = tmp_path / "without"
    without_check.mkdir()
    for f in tmp_path.glob("blind_audit_v1[34].tsv*"):
        shutil.copy(f, without_check / f.name)
    assert rows == labelled(without_check) and labelled(tmp_path, check=True)  # the check audit is never trained on
    train, held = parts(rows)
    assert held and train and not {r["dialog_id"] for r in train} & {r["dialog_id"] for r in held}
    assert all(held_out(r["dialog_id"]) for r in held)
    assert len({r["sentence"] for r in rows}) == len(rows)  # one row per sentence, majority label
    out = tmp_path / "weights.json"
    assert main(["--train", "--labels", str(tmp_path), "--weights", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert len(saved["weights"]) == 384 and 0.5 < saved["held_out_auc"] <= 1.0
    printed = capsys.readouterr().out
    assert f"Held out (one dialog in four): {len(held)} sentences" in printed
    assert "Audit blind_audit_v15.tsv (never trained on)" in printed and "no training label holds" in printed
    with pytest.raises(InputError, match="give --train or --score"):
        main(["--labels", str(tmp_path)])
    with pytest.raises(InputError, match="no blind audit labels"):
        main(["--score", "--labels", str(tmp_path / "none")])
