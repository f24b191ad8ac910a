"""analysis.persona_similarity: per-dialog numbers by hand, outputs, control, errors."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.persona_similarity import main
from common.cli import InputError, run_cli
from schemas.pesconv import PESCONV_SCHEMA

SQ2 = math.sqrt(2)


# ---------------------------------------------------------------- helpers

def turn(speaker: str, text: str, persona: list[str]) -> dict:
    return {"speaker": speaker, "text": text, "strategy": "Question" if speaker == "supporter" else None,
            "feedback": None, "persona": persona, "persona_inferred": speaker == "seeker" and bool(persona)}


def row(dialog_id: str, turns: list[dict], survey: dict | None, split: str = "train") -> dict:
    return {"dialog_id": dialog_id, "split": split, "source": f"hand#{dialog_id}", "experience_type": None,
            "emotion_type": "sadness", "problem_type": "job crisis", "situation": "", "survey_score": survey,
            "dialog": turns, "persona": turns[-1]["persona"] if turns else [], "persona_list": []}


def survey(emp: int, rel: int, init: int, final: int) -> dict:
    return {"empathy": emp, "relevance": rel, "initial_emotion_intensity": init, "final_emotion_intensity": final,
            "supporter_relevance": 3}


def write_build(folder: Path, rows: list[dict]) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PESCONV_SCHEMA), folder / "data" / "train-00000-of-00001.parquet")
    return folder


def write_vec(path: Path, vectors: dict[str, list[float]]) -> Path:
    dim = len(next(iter(vectors.values())))
    lines = [f"{len(vectors)} {dim}"] + [w + " " + " ".join(repr(float(x)) for x in v) for w, v in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def dialogs_by_id(out: Path, name: str) -> dict[str, dict]:
    return {r["dialog_id"]: r for r in read_csv(out / f"persona_similarity_{name}_dialogs.csv")}


# Hand-made vectors: known words only, so every cosine below is exact.
HAND_VECTORS = {"good": [1.0, 0.0], "job": [0.0, 1.0], "sad": [1.0, 1.0]}


def hand_rows() -> list[dict]:
    a = [turn("seeker", "hi", []), turn("supporter", "hello", []),                       # before any persona
         turn("seeker", "I lost my job", ["I lost my job"]),
         turn("supporter", "good", ["I lost my job"]),                                   # (1,0) vs job (0,1): 0
         turn("seeker", "I am sad", ["I lost my job", "I am sad"]),
         turn("supporter", "good job!", ["I lost my job", "I am sad"])]                  # (.5,.5) vs (.5,1)
    b = [turn("seeker", "all good", ["good"]), turn("supporter", "sad", ["good"]),    # (1,1) vs (1,0): 1/sqrt2
         turn("seeker", "yes", ["good"]), turn("supporter", "hmm", ["good"])]          # no known word: undefined
    c = [turn("seeker", "so sad", ["sad"]), turn("supporter", "job", ["sad"])]          # (0,1) vs (1,1): 1/sqrt2
    d = [turn("seeker", "hi", []), turn("supporter", "hello", [])]                      # never a persona
    return [row("A", a, survey(5, 4, 4, 2)), row("B", b, survey(3, 4, 3, 3)), row("C", c, None),
            row("D", d, survey(2, 2, 2, 3))]


def _mean_vec(text: str, vectors: dict[str, np.ndarray]) -> np.ndarray:
    known = [vectors[w] for w in re.findall(r"\w+", text.lower()) if w in vectors]
    return np.mean(known, axis=0) if known else np.zeros(len(next(iter(vectors.values()))))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float("nan") if na == 0 or nb == 0 else float(a @ b / (na * nb))


def recompute(rows: dict[str, dict], vectors: dict[str, np.ndarray], dialog_id: str, donor_id: str | None = None):
    """Independent re-implementation of the documented statistic (joined persona)."""
    own = [(t["text"], t["persona"]) for t in rows[dialog_id]["dialog"] if t["speaker"] == "supporter" and t["persona"]]
    if donor_id is not None:
        states = [t["persona"] for t in rows[donor_id]["dialog"] if t["speaker"] == "supporter" and t["persona"]]
        own = [(text, states[j * len(states) // len(own)]) for j, (text, _) in enumerate(own)]
    sims = [_cos(_mean_vec(text, vectors), _mean_vec(" ".join(p), vectors)) for text, p in own]
    sims = [s for s in sims if not math.isnan(s)]
    return sum(sims) / len(sims)


# ---------------------------------------------------------------- hand computation

@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hand")
    build = write_build(tmp / "build", hand_rows())
    vec = write_vec(tmp / "hand.vec", HAND_VECTORS)
    out = tmp / "out"
    assert main(["--data", str(build), "--output", str(out), "--encoder", str(vec), "--no-progress"]) == 0
    return build, vec, out


def test_per_dialog_numbers_equal_hand_computation(hand_run):
    _, _, out = hand_run
    got = dialogs_by_id(out, "vec-hand")
    assert set(got) == {"A", "B", "C"}  # D never shows a persona: counted, not analysed
    assert float(got["A"]["persona"]) == pytest.approx((0.0 + 3 / math.sqrt(10)) / 2, abs=1e-6)
    assert float(got["B"]["persona"]) == pytest.approx(1 / SQ2, abs=1e-6)
    assert float(got["C"]["persona"]) == pytest.approx(1 / SQ2, abs=1e-6)
    assert (got["A"]["turns_used"], got["A"]["turns_no_persona"]) == ("2", "1")
    assert (got["B"]["turns_used"], got["B"]["turns_undefined"]) == ("1", "1")
    assert got["C"]["empathy"] == "" and got["A"]["intensity_decrease"] == "2"


def test_echo_controls_equal_hand_computation(hand_run):
    """Echo: the responses against the seeker's own utterances so far (joined) and against their last one."""
    _, _, out = hand_run
    got = dialogs_by_id(out, "vec-hand")
    assert float(got["A"]["echo"]) == pytest.approx((0.0 + 3 / math.sqrt(10)) / 2, abs=1e-6)
    assert float(got["A"]["echo_last"]) == pytest.approx((0.0 + 1.0) / 2, abs=1e-6)  # "good job!" vs "I am sad": 1
    assert float(got["B"]["echo"]) == float(got["B"]["echo_last"]) == pytest.approx(1 / SQ2, abs=1e-6)
    result = json.loads((out / "persona_similarity_vec-hand.json").read_text())
    for panel in result["panels"].values():
        assert panel["difference_echo"]["what"].startswith("persona minus echo")
        assert "beyond_echo" in panel and "difference" in panel


def test_counts_report_skipped_dialogs_and_turns(hand_run):
    _, _, out = hand_run
    result = json.loads((out / "persona_similarity_vec-hand.json").read_text())
    c = result["counts"]
    assert c["dialogs_read"] == 4 and c["dialogs_no_visible_persona"] == 1 and c["dialogs_analysed"] == 3
    assert c["dialogs_no_survey_score"] == 1
    assert (c["supporter_turns"], c["supporter_turns_no_persona_yet"], c["supporter_turns_undefined_similarity"],
            c["supporter_turns_used"]) == (7, 2, 1, 4)
    emp = result["panels"]["empathy"]
    assert emp["dialogs_missing_score"] == 1 and emp["persona"]["n_dialogs"] == 2
    assert [(e["level"], e["n"]) for e in emp["persona"]["levels"]] == [(3, 1), (5, 1)]
    assert "joined" in result["definition"]["turn_similarity"]


def test_control_uses_another_dialogs_persona(hand_run):
    build, _, out = hand_run
    got = dialogs_by_id(out, "vec-hand")
    rows = {r["dialog_id"]: r for r in hand_rows()}
    vectors = {w: np.asarray(v) for w, v in HAND_VECTORS.items()}
    donors = {k: v["control_donor"] for k, v in got.items()}
    assert sorted(donors.values()) == sorted(donors) and all(k != v for k, v in donors.items())
    for dialog_id, r in got.items():
        assert float(r["persona"]) == pytest.approx(recompute(rows, vectors, dialog_id), abs=1e-6)
        if r["control"]:
            assert float(r["control"]) == pytest.approx(recompute(rows, vectors, dialog_id, donors[dialog_id]),
                                                        abs=1e-6)


@pytest.mark.parametrize("mode, expected_a", [("max", (0.0 + 1.0) / 2), ("mean", (0.0 + (1 / SQ2 + 1.0) / 2) / 2)])
def test_persona_modes(hand_run, tmp_path, mode, expected_a):
    build, vec, _ = hand_run
    assert main(["--data", str(build), "--output", str(tmp_path), "--encoder", str(vec), "--persona-mode", mode,
                 "--no-progress"]) == 0
    got = dialogs_by_id(tmp_path, "vec-hand")
    assert float(got["A"]["persona"]) == pytest.approx(expected_a, abs=1e-6)


# ---------------------------------------------------------------- on a real (tiny) build

def _build_rows(build: Path) -> dict[str, dict]:
    rows = {}
    for f in sorted((build / "data").glob("*.parquet")):
        rows.update({r["dialog_id"]: r for r in pq.read_table(f).to_pylist()})
    return rows


def test_tiny_build_matches_recomputation_on_three_dialogs(tiny_build, tmp_path):
    rows = _build_rows(tiny_build)
    words = sorted({w for r in rows.values() for t in r["dialog"]
                    for text in [t["text"], *t["persona"]] for w in re.findall(r"\w+", text.lower())})
    rng = np.random.default_rng(0)
    vectors = {w: rng.normal(size=8).round(4) for w in words}
    vec = write_vec(tmp_path / "words.vec", {w: v.tolist() for w, v in vectors.items()})
    out = tmp_path / "out"
    assert main(["--data", str(tiny_build), "--output", str(out), "--encoder", str(vec), "--no-progress"]) == 0
    got = dialogs_by_id(out, "vec-words")
    assert len(got) == 7
    for dialog_id in sorted(got)[:3]:
        r = got[dialog_id]
        assert float(r["persona"]) == pytest.approx(recompute(rows, vectors, dialog_id), abs=1e-5)
        assert float(r["control"]) == pytest.approx(recompute(rows, vectors, dialog_id, r["control_donor"]), abs=1e-5)
        assert r["empathy"] == str(rows[dialog_id]["survey_score"]["empathy"])


def test_figures_and_tables_written_for_default_and_glove_encoders(tiny_build, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    assert main(["--data", str(tiny_build), "--output", str(out), "--encoder", "minilm", "fasttext", "glove",
                 "--fasttext-epoch", "2", "--threads", "1", "--no-progress"]) == 0
    for name in ("minilm", "fasttext", "glove"):
        for suffix in (".png", ".svg", ".json", "_levels.csv", "_regression.csv", "_dialogs.csv"):
            path = out / f"persona_similarity_{name}{suffix}"
            assert path.stat().st_size > 0, path
        assert (out / f"persona_similarity_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        result = json.loads((out / f"persona_similarity_{name}.json").read_text())
        assert set(result["panels"]) == {"empathy", "relevance", "intensity_decrease"}
        for panel in result["panels"].values():
            for cond in ("persona", "control", "echo", "echo_last"):
                assert panel[cond]["levels"] and panel[cond]["regression"]["slope"] is not None
                assert sum(e["n"] for e in panel[cond]["levels"]) == panel[cond]["n_dialogs"] == 7
            assert panel["beyond_echo"]["n"] == 7 and panel["beyond_echo"]["persona_coef"] is not None
            perm = panel["persona"]["regression"]["permutation"]
            assert perm["permutations"] == 1000 and perm["p_value_mc_se"] == pytest.approx(
                math.sqrt(perm["p_value"] * (1 - perm["p_value"]) / 1000))
            assert "one-sided" in perm["tests"]["p_greater"] and "two-sided" in perm["tests"]["p_value"]
        assert len(read_csv(out / f"persona_similarity_{name}_levels.csv")) > 0
    regs = read_csv(out / "persona_similarity_regressions.csv")
    assert len(regs) == 3 * 3 * 7 and all(r["slope"] != "" and (r["r2"] != "" or r["condition"] == "beyond_echo")
                                          for r in regs)  # 4 conditions, 2 differences, the persona beyond echo
    real = [r for r in regs if r["condition"] == "persona"]
    assert all(r["permutations"] == "1000" and 0 < float(r["p_permutation"]) <= 1 for r in real)
    assert all(float(r["slope_ci95_low"]) <= float(r["slope"]) <= float(r["slope_ci95_high"]) for r in real)
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("Analysed 7 of 7 dialogs") and "minilm:" in summary and "glove:" in summary


def test_corpus_fasttext_repeats_exactly(tiny_build, tmp_path):
    runs = []
    for i in range(2):
        out = tmp_path / str(i)
        assert main(["--data", str(tiny_build), "--output", str(out), "--encoder", "fasttext", "--fasttext-epoch", "2",
                     "--fasttext-dim", "16", "--no-progress"]) == 0
        runs.append([(r["dialog_id"], r["persona"], r["control"]) for r in read_csv(out / "persona_similarity_fasttext_dialogs.csv")])
    assert runs[0] == runs[1]


# ---------------------------------------------------------------- errors

def one_line_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        run_cli(main, argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_unknown_encoder_is_a_one_line_error(hand_run, capsys):
    build, _, _ = hand_run
    assert "unknown encoder 'minilmm'" in one_line_error(["--data", str(build), "--encoder", "minilmm"], capsys)
    assert "does not exist" in one_line_error(["--data", str(build), "--encoder", "nope.vec"], capsys)


def test_empty_dataset_is_a_one_line_error(tmp_path, capsys):
    write_build(tmp_path / "empty", [])
    assert "no dialogs" in one_line_error(["--data", str(tmp_path / "empty"), "--output", str(tmp_path / "o")], capsys)
    (tmp_path / "bare").mkdir()
    assert "no PESConv shards" in one_line_error(["--data", str(tmp_path / "bare")], capsys)
    assert "no such folder" in one_line_error(["--data", str(tmp_path / "missing")], capsys)
    write_build(tmp_path / "nopersona", [hand_rows()[3]])
    assert "visible persona" in one_line_error(["--data", str(tmp_path / "nopersona")], capsys)


def test_raw_esconv_is_refused(small_esconv, capsys):
    assert "raw ESConv" in one_line_error(["--data", str(small_esconv)], capsys)


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--data", "--output", "--encoder", "--persona-mode", "--splits", "--seed", "--fasttext-dim",
                   "--max-dialogs", "--threads", "--device"):
        assert option in text


def test_invalid_encoder_direct_api():
    from analysis.encoders import check_spec

    with pytest.raises(InputError):
        check_spec("glovee")
    check_spec("princeton-nlp/sup-simcse-bert-base-uncased")  # Hub ids pass the cheap check


def test_simcse_checkpoints_use_simcse_cls_pooling(tmp_path):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from analysis.encoders import make_encoder
    from common.offline_models import minilm_path

    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32)).eval()
    text = ["I lost my job and feel anxious."]
    with torch.no_grad():
        ref = model(**tok(text, return_tensors="pt"))
    cases = (("tiny-sup-simcse", "", "cls", ref.pooler_output),
             ("tiny-unsup-simcse", "", "cls_before_pooler", ref.last_hidden_state[:, 0]),
             ("tiny-bert", "simcse:", "cls", ref.pooler_output),
             ("plain-bert", "", "mean", ref.last_hidden_state.mean(1)))
    for name, prefix, pooling, expected in cases:
        folder = tmp_path / name
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        enc = make_encoder(prefix + str(folder))
        assert enc.pooling == pooling and enc.name == name
        assert np.allclose(enc.encode(text), expected.numpy(), atol=1e-5)


def test_fasttext_epochs_grow_for_small_corpora():
    from analysis.encoders import auto_epochs

    assert auto_epochs(20_000) == 100 and auto_epochs(100_000) == 20 and auto_epochs(5_000_000) == 10


@pytest.mark.parametrize("mode", ["joined", "mean", "max"])
def test_permutation_draws_equal_the_control_computed_turn_by_turn(tiny_build, tmp_path, mode):
    """Each row of the fast null equals `dialog_similarities` with that draw's donors (the figure's control path)."""
    from analysis.encoders import load_vec
    from analysis.persona_similarity import (
        assign_donors,
        collect_turns,
        dialog_similarities,
        donor_personas,
        load_dialogs,
        null_controls,
    )

    rows = _build_rows(tiny_build)
    words = sorted({w for r in rows.values() for t in r["dialog"]
                    for text in [t["text"], *t["persona"]] for w in re.findall(r"\w+", text.lower())})
    rng = np.random.default_rng(1)
    vec = write_vec(tmp_path / "w.vec", {w: rng.normal(size=8).round(4).tolist() for w in words[::2]})  # gaps
    encoder = load_vec(vec)
    eligible = [d for d in collect_turns(load_dialogs(str(tiny_build))) if d.responses]
    null = null_controls(encoder, eligible, mode, seed=5, permutations=3, progress=False)
    for k in range(3):
        donors = assign_donors(len(eligible), 5 + 1 + k)
        slow = dialog_similarities(encoder, eligible, [donor_personas(d, eligible[donors[i]])
                                                       for i, d in enumerate(eligible)], mode, progress=False)
        np.testing.assert_allclose(null[k], [s for s, _, _ in slow], atol=1e-6)
