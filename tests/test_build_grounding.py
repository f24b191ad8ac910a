"""Per-utterance extraction, evidence and the grounding check in the real Beam build."""
from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from extractor.dedup import merge_persona
from extractor.formatting import ExtractionInput
from extractor.grounding import REMARK
from extractor.meaning import NEGATION_CHANGED
from extractor.requests import CUMULATIVE, UTTERANCE, annotated_positions, extraction_requests, seeker_positions
from pipelines.build_settings import BuildSettings
from pipelines.build_steps import CUT, FALLBACK, UNSUPPORTED, GroundPersonas, fold_dialog, request_key
from pipelines.elements import GroundedSentence, Outcome, TurnOutcome, ValidDialog
from pipelines.inference import InferenceCache
from schemas.esconv import SEEKER, RawRecord, normalise_dialog
from tests.conftest import TINY_BUILD_ARGS
from tests.helpers import read_manifest, real_dialog_lines


def rows(out: Path) -> list[dict]:
    return [r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def real_dialog(split: str = "valid", i: int = 0):
    return normalise_dialog(json.loads(real_dialog_lines(split, i + 1)[i]), f"{split}.json", i)


def test_grounding_step_marks_invented_sentences():
    inp = ExtractionInput(("i have two dogs and i work as a nurse at night .",), "what do you do ?")
    with BeamTestPipeline() as p:
        out = (p | beam.Create([("k", (inp, ["I have two dogs.", "I am a pilot.", "I work as a nurse."]))])
               | beam.BatchElements(min_batch_size=1) | beam.ParDo(GroundPersonas(BuildSettings(style="quote")))
               | beam.Map(lambda kv: (kv[0], [(g.sentence, g.supported, g.utterance) for g in kv[1].sentences])))
        assert_that(out, equal_to([("k", [("I have two dogs.", True, 0), ("I am a pilot.", False, 0),
                                          ("I work as a nurse.", True, 0)])]))


def test_grounding_step_drops_remarks_with_their_reason_unless_asked_not_to():
    inp = ExtractionInput(("Thank you so much for listening to me. I lost my job last week.",), "How are you?")
    sentences = ["Thank you so much for listening to me.", "I lost my job last week."]
    for remarks, expected in ((True, [(False, REMARK), (True, None)]), (False, [(True, None), (True, None)])):
        with BeamTestPipeline() as p:
            out = (p | beam.Create([("k", (inp, sentences))]) | beam.BatchElements(min_batch_size=1)
                   | beam.ParDo(GroundPersonas(BuildSettings(drop_remarks=remarks, style="quote")))
                   | beam.Map(lambda kv: [(g.supported, g.reason) for g in kv[1].sentences]))
            assert_that(out, equal_to([expected]))


def test_grounding_step_keeps_a_fact_less_its_thanks_and_says_what_was_generated():
    inp = ExtractionInput(("I am still looking for work, thanks for asking.",), "How is the job search going?")
    generated = "I am still looking for work, thanks for asking."
    for remarks, expected in ((True, ("I am still looking for work.", True, generated)), (False, (generated, True, None))):
        with BeamTestPipeline() as p:
            out = (p | beam.Create([("k", (inp, [generated]))]) | beam.BatchElements(min_batch_size=1)
                   | beam.ParDo(GroundPersonas(BuildSettings(drop_remarks=remarks, style="quote")))
                   | beam.Map(lambda kv: [(g.sentence, g.supported, g.generated) for g in kv[1].sentences]))
            assert_that(out, equal_to([[expected]]))


def test_grounding_step_drops_a_flipped_negation_or_quotes_the_seeker_instead():
    """The Beam step applies the meaning check: the seeker's words, the opposite meaning. By default (quote) the
    paraphrase is replaced by the seeker's own statement first, which says what the seeker said."""
    inp = ExtractionInput(("We are not married but we live together.",), "Are you married?")
    generated = ["We are married but we live together.", "We live together."]
    expected = {False: [(False, NEGATION_CHANGED, "We are married but we live together.", None, False),
                        (True, None, "We live together.", None, False)],
                True: [(True, None, "We are not married but we live together.", generated[0], True),
                       (True, None, "We live together.", None, False)]}
    for quote in (False, True):
        with BeamTestPipeline() as p:
            out = (p | beam.Create([("k", (inp, generated))])
                   | beam.BatchElements(min_batch_size=1) | beam.ParDo(GroundPersonas(BuildSettings(drop_remarks=False, quote=quote, style="quote")))
                   | beam.Map(lambda kv: [(g.supported, g.reason, g.sentence, g.generated, g.quoted)
                                          for g in kv[1].sentences]))
            assert_that(out, equal_to([expected[quote]]))


def fold(dialog, results: dict[int, list[GroundedSentence]], context=UTTERANCE, keep=False):
    valid = ValidDialog(dialog, 0, "train", RawRecord(dialog.source, dialog.source_index, None))
    persona = [TurnOutcome(turn, Outcome(tuple(sentences))) for turn, sentences in results.items()]
    outputs = list(fold_dialog((dialog.dialog_id, {"dialog": [valid], "persona": persona}),
                                BuildSettings(context=context, keep_unsupported=keep)))
    tagged = [o.value for o in outputs if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == UNSUPPORTED]
    row = next(o for o in outputs if isinstance(o, dict))
    return row, tagged


def test_fold_keeps_the_cut_sentence_and_lists_what_was_generated():
    d = real_dialog()
    seekers = seeker_positions(d)
    results = {p: [] for p in seekers}
    results[seekers[1]] = [GroundedSentence("I lost my job.", True, 0, 0.9, 1.0, None, "I lost my job, thanks for asking.")]
    valid = ValidDialog(d, 0, "train", RawRecord(d.source, d.source_index, None))
    persona = [TurnOutcome(turn, Outcome(tuple(sentences))) for turn, sentences in results.items()]
    outputs = list(fold_dialog((d.dialog_id, {"dialog": [valid], "persona": persona}), BuildSettings()))
    cut = [o.value for o in outputs if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == CUT]
    row = next(o for o in outputs if isinstance(o, dict))
    assert row["persona"] == ["I lost my job."] and row["persona_evidence"] == [seekers[1]]
    assert cut == [{"dialog_id": d.dialog_id, "turn": seekers[1], "generated": "I lost my job, thanks for asking.",
                    "kept": "I lost my job.", "change": "remark clause cut"}]


def test_fold_drops_and_counts_an_invented_sentence_and_keeps_evidence():
    d = real_dialog()
    seekers = seeker_positions(d)
    results = {p: [] for p in seekers}
    results[seekers[0]] = [GroundedSentence("I feel anxious.", True, 0, 0.9, 1.0)]
    results[seekers[3]] = [GroundedSentence("I am a pilot.", False, 0, 0.1, 0.0),
                           GroundedSentence("I lost my job.", True, 0, 0.85, 1.0),
                           GroundedSentence("I will try that.", False, 0, 1.0, 1.0, REMARK)]
    row, unsupported = fold(d, results)
    assert row["persona"] == ["I feel anxious.", "I lost my job."]
    assert row["persona_evidence"] == [seekers[0], seekers[3]]
    assert row["_generated"] == 4 and len(unsupported) == 2 and unsupported[1]["reason"] == REMARK
    assert unsupported[0] == {"dialog_id": d.dialog_id, "turn": seekers[3], "sentence": "I am a pilot.",
                              "cosine": 0.1, "lexical": 0.0, "kept": False,
                              "reason": "no support in the seeker's words"}
    first = min(annotated_positions(d, 3))
    for i, turn in enumerate(row["dialog"]):
        assert len(turn["persona"]) == len(turn["persona_evidence"])
        assert all(e <= i and row["dialog"][e]["speaker"] == SEEKER for e in turn["persona_evidence"])
        if i < first:
            assert turn["persona"] == []  # nothing shown before the start utterance
        expected = merge_persona([], [g.sentence for p in seekers if p <= i for g in results[p] if g.supported])
        assert turn["persona"] == (expected if i >= first else [])
    kept_row, kept_unsupported = fold(d, results, keep=True)
    assert "I am a pilot." in kept_row["persona"] and kept_unsupported[0]["kept"] is True


def test_per_utterance_requests_cost_linear_in_the_dialog():
    d = real_dialog("train", 2)
    per_utt = extraction_requests(d, 3, UTTERANCE)
    cumulative = extraction_requests(d, 3, CUMULATIVE)
    seeker_chars = sum(len(t.text) for t in d.turns if t.speaker == SEEKER)
    assert [turn for _, turn in per_utt] == seeker_positions(d)  # each seeker utterance read once
    assert sum(len(i.utterances[0]) for i, _ in per_utt) == seeker_chars
    assert all(len(i.context) <= 300 + 3 or i.context in {t.text for t in d.turns} for i, _ in per_utt)
    assert sum(len(u) for i, _ in cumulative for u in i.utterances) > 3 * seeker_chars  # the paper's input grows


def test_union_of_per_utterance_results_is_the_turn_persona(tiny_build: Path):
    manifest = read_manifest(tiny_build)
    cache = InferenceCache(str(tiny_build / "cache"), manifest["extractor"]["fingerprint"]).load()
    fallback: dict[tuple[str, int], list[str]] = {}  # the seeker's clauses kept where no proposal was (fact style)
    for line in (tiny_build / "rewritten.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["change"] == FALLBACK:
            fallback.setdefault((r["dialog_id"], r["turn"]), []).append(r["kept"])
    for row in rows(tiny_build):
        dialog = next(d for d in map(lambda x: normalise_dialog(json.loads(x)),
                                     real_dialog_lines(row["split"], 3)) if d.dialog_id == row["dialog_id"])
        requests = dict((turn, inp) for inp, turn in extraction_requests(dialog, 3, UTTERANCE))
        visible: list[str] = []
        first = min(annotated_positions(dialog, 3))
        for i, turn in enumerate(row["dialog"]):
            if i in requests:
                proposed = cache[request_key(manifest["extractor"]["fingerprint"], requests[i])]
                visible = merge_persona(visible, proposed + fallback.get((row["dialog_id"], i), []))
            assert turn["persona"] == (visible if i >= first else [])
            assert all(e <= i and row["dialog"][e]["speaker"] == SEEKER for e in turn["persona_evidence"])
        assert row["persona"] == visible and len(row["persona_evidence"]) == len(visible)


@pytest.mark.slow
def test_default_build_drops_unsupported_sentences_and_counts_them(tmp_path: Path, tiny_causal_dir: Path,
                                                                   small_esconv: Path):
    from pipelines.build_pesconv import main

    out = tmp_path / "out"
    assert main(["--input", str(small_esconv), "--output", str(out), "--extractor", str(tiny_causal_dir),
                 "--max-dialogs", "2", *TINY_BUILD_ARGS]) == 0
    g = read_manifest(out)["grounding"]
    listed = [json.loads(x) for x in (out / "unsupported.jsonl").read_text().splitlines()]
    # a random model invents everything: every sentence is listed, counted and dropped
    assert g["generated"] == g["unsupported"] == len(listed) > 0 and g["action"] == "dropped"
    assert all(not r["kept"] for r in listed)
    # what the persona holds is the seeker's own clauses, kept where no proposal was (fact style), none generated
    clauses = {(r["dialog_id"], r["kept"]) for r in map(json.loads, (out / "rewritten.jsonl").read_text().splitlines())
               if r["change"] == FALLBACK}
    assert g["seeker_clauses_kept"] == len(clauses) > 0
    assert all((r["dialog_id"], p) in clauses for r in rows(out) for p in r["persona"])


@pytest.mark.slow
def test_cumulative_context_still_builds_with_evidence(tmp_path: Path, tiny_causal_dir: Path, small_esconv: Path):
    from pipelines.build_pesconv import main

    out = tmp_path / "cum"
    assert main(["--input", str(small_esconv), "--output", str(out), "--extractor", str(tiny_causal_dir),
                 "--max-dialogs", "2", "--context", "cumulative", "--keep-unsupported", *TINY_BUILD_ARGS]) == 0
    m = read_manifest(out)
    assert m["settings"]["context"] == "cumulative" and m["grounding"]["generated"] > 0
    for row in rows(out):
        assert len(row["persona_list"]) == sum(t["persona_inferred"] for t in row["dialog"])
        for i, turn in enumerate(row["dialog"]):
            assert all(e <= i and row["dialog"][e]["speaker"] == SEEKER for e in turn["persona_evidence"])


def test_fold_counts_utterances_that_repeat_the_one_before():
    """ESConv has double submissions (a turn repeated word for word right after itself): the row keeps them as
    ESConv has them and counts them for the manifest."""
    import dataclasses

    d = real_dialog()
    supporter = next(i for i, t in enumerate(d.turns) if i and t.speaker != SEEKER)
    doubled = dataclasses.replace(d, turns=d.turns[:supporter + 1] + (dataclasses.replace(
        d.turns[supporter], text=d.turns[supporter].text.upper() + "  "),) + d.turns[supporter + 1:])
    row, _ = fold(d, {p: [] for p in seeker_positions(d)})
    row2, _ = fold(doubled, {p: [] for p in seeker_positions(doubled)})
    assert (row["_repeats"], row2["_repeats"]) == (0, 1)
    assert len(row2["dialog"]) == len(row["dialog"]) + 1


def test_a_proposal_kept_as_implied_is_listed_with_its_probabilities():
    from pipelines.build_steps import IMPLIED_KEPT

    d = real_dialog("valid", 0)
    turn = seeker_positions(d)[1]
    results = {p: [] for p in seeker_positions(d)}
    results[turn] = [GroundedSentence("I lost my job.", True, 0, 0.0, 0.0, span=(0, 5), stated=0.01, fact=0.9,
                                      implied=0.97)]
    valid = ValidDialog(d, 0, "valid", RawRecord(d.source, d.source_index, None))
    persona = [TurnOutcome(t, Outcome(tuple(s))) for t, s in results.items()]
    out = list(fold_dialog((d.dialog_id, {"dialog": [valid], "persona": persona}), BuildSettings(referents=False)))
    row = next(o for o in out if isinstance(o, dict))
    cut = [o.value for o in out if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == CUT]
    assert row["persona"] == ["I lost my job."]
    assert cut == [{"dialog_id": d.dialog_id, "turn": turn, "generated": "I lost my job.", "kept": "I lost my job.",
                    "change": IMPLIED_KEPT, "implied": 0.97, "stated": 0.01}]
