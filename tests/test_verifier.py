"""Propose, then verify: the judges' data, their weights on disk, and the shipped check on real cases."""
from __future__ import annotations

import argparse
import dataclasses
import random
from pathlib import Path

import pytest

from common.cli import InputError
from extractor.cross_encoder import Judge, JudgeConfig, bce, load_judge
from extractor.formatting import ExtractionInput
from extractor.judge_data import (
    LookAlikes,
    edits_of,
    fact_labels,
    implied_dev_pairs,
    implied_examples,
    made_mine,
    negation_flipped,
    number_changed,
    reading,
    verifier_dev,
)
from extractor.meaning import SUBJECT_CHANGED
from extractor.statements import atomic_clauses, strip_end
from extractor.verifier import (
    JUDGES_DIR,
    NEW_WORD,
    NOT_STATED,
    PARTIAL,
    CheckSettings,
    check_judges,
    locate,
    seeker_clauses,
)


def test_each_edit_makes_a_true_sentence_false():
    rng = random.Random(0)
    assert negation_flipped("i am a nurse.") == "i am not a nurse."
    assert negation_flipped("i don't like dogs") == "i like dogs"
    assert negation_flipped("i can't swim") == "i can swim"
    assert number_changed("i have 2 kids", rng) != "i have 2 kids"
    assert "two" not in number_changed("i have two kids", rng)
    assert made_mine("my sister is a nurse") == "i am a nurse"
    assert made_mine("i am a nurse") is None
    kinds = dict(edits_of("i was a teacher for 10 years", rng))
    assert kinds["made present"] == "i am a teacher for 10 years"
    assert kinds["negation"] == "i was not a teacher for 10 years"
    assert dict(edits_of("i want to become a doctor", rng))["wish made fact"] == "i am a doctor"
    assert edits_of("thanks", rng) == []


def test_look_alikes_share_words_with_the_utterance_but_are_not_stated_by_it():
    from extractor.grounding import SupportScorer, content_words, minilm_embedder

    pool = ["i like to go to parties.", "i worry about my health every day.", "i have two dogs and a cat.",
            "i hate math class.", "my favorite color is blue.", "i work as a nurse in a hospital.",
            "i play the guitar in a band.", "i went to a party with my guitar last week."]
    look_alikes = LookAlikes(pool, SupportScorer(minilm_embedder()))
    drawn = dict(look_alikes.draw("i worry . my band plays at the hospital on fridays", ["i worry"], random.Random(0)))
    assert drawn["says more"] == "i worry about my health every day."  # the seeker's clause, with more said
    assert content_words(drawn["shares a word"]) & content_words("my band plays at the hospital on fridays")
    # what the utterance (nearly) states is never drawn: here every look-alike would be stated
    assert look_alikes.draw("math ! i hate it ! i hate math class", ["i hate it"], random.Random(0)) == []


def test_development_data_reads_every_label_file_with_both_classes():
    dev = verifier_dev()
    files = {name for name, _ in dev}
    assert {"meaning_audit.tsv", "quote_audit.tsv", "grounding_labels.tsv", "persona_audit.tsv",
            "implied_pairs.tsv (dev part)"} <= files
    assert {e.label for _, e in dev} == {0, 1}
    assert all("Seeker: " in e.first and e.second for _, e in dev)
    # the implied facts' development part shares no persona group with their training part
    from extractor.heldout import persona_groups, read_split

    pairs, _ = read_split(Path(__file__).resolve().parents[1] / "extractor" / "default_adapter")
    groups = persona_groups(pairs)
    dev_groups = {groups[i] for i in implied_dev_pairs()}
    train = implied_examples("train")
    assert train and dev_groups and not {groups[int(e.group[4:])] for e in train} & dev_groups
    facts = fact_labels()
    assert {e.label for _, e in facts} == {0, 1} and all(e.second == "" for _, e in facts)


def test_reading_marks_the_supporter_and_keeps_the_seeker_whole():
    long = " ".join(f"w{i}" for i in range(100))
    text = reading("I lost my job.", long)
    assert text.endswith("Seeker: I lost my job.") and text.startswith("Supporter: w60 ")
    assert reading("I lost my job.") == "Seeker: I lost my job."


def test_judge_weights_round_trip_and_bad_files_are_one_line_errors(tmp_path):
    judge = Judge(JudgeConfig(task="fact", lora_r=2, lora_alpha=4))
    pairs = [("I have two kids.", ""), ("Thanks for listening!", "")]
    opt = __import__("torch").optim.AdamW([p for p in judge.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        bce(judge, pairs, [1, 0]).backward()
        opt.step()
    judge.save(tmp_path / "fact")
    loaded = load_judge(tmp_path / "fact", "fact")
    assert loaded.probability(pairs) == pytest.approx(judge.probability(pairs), abs=1e-6)
    with pytest.raises(InputError, match="not a verifier judge"):
        load_judge(tmp_path / "fact", "verifier")
    (tmp_path / "fact" / "judge.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="cannot read"):
        load_judge(tmp_path / "fact", "fact")
    with pytest.raises(InputError, match="not found"):
        check_judges(tmp_path)


def test_a_judge_on_smollm2_reads_the_pair_as_one_text_and_round_trips(tmp_path):
    from extractor.cross_encoder import ASK, SMOLLM2

    judge = Judge(JudgeConfig(task="implied", base=SMOLLM2, lora_r=2, lora_alpha=4))
    pairs = [("Seeker: I got laid off last week.", "I lost my job."), ("Seeker: Hi there", "I am a nurse.")]
    enc = judge.encode(pairs)
    text = judge.tokenizer.decode(enc["input_ids"][1][enc["attention_mask"][1].bool()])
    assert text == f"Seeker: Hi there{ASK}I am a nurse."  # padded on the right: the head reads the last real token
    opt = __import__("torch").optim.AdamW([p for p in judge.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        bce(judge, pairs, [1, 0]).backward()
        opt.step()
    alone = judge.probability(pairs[1:])
    assert judge.probability(pairs)[1] == pytest.approx(alone[0], abs=1e-5)  # padding does not change a score
    judge.save(tmp_path / "implied")
    assert load_judge(tmp_path / "implied", "implied").probability(pairs) == pytest.approx(judge.probability(pairs),
                                                                                           abs=1e-5)
    with pytest.raises(InputError, match="the bases are"):
        Judge(JudgeConfig(task="implied", base="bert-base-uncased"))


def test_locate_and_the_seekers_clauses():
    utterance = "My sister is a nurse, and I work in retail."
    assert seeker_clauses(utterance) == ["My sister is a nurse", "and I work in retail."]
    assert locate("I work in retail", utterance) == (26, 42)
    assert locate("i WORK in retail", utterance) == (26, 42)
    assert locate("I am a pilot", utterance) is None


def test_a_kept_sentence_ends_at_its_last_word_or_emoticon():
    assert strip_end("I have not needed a resume for over 10 years (7)") == "I have not needed a resume for over 10 years"
    assert strip_end("I really miss him,") == "I really miss him"
    assert strip_end("we split up last month/") == "we split up last month"
    assert strip_end("I am on a team of 2 people -") == "I am on a team of 2 people"
    assert strip_end("it is up to me to keep everything afloat.,") == "it is up to me to keep everything afloat."
    assert strip_end("my family is 3 states away :/") == "my family is 3 states away :/"


def test_a_dependent_clause_stays_with_the_clause_before_it_and_turn_counters_are_not_words():
    assert seeker_clauses("I can't tell my boss, because he might think I'm slacking.") == [
        "I can't tell my boss, because he might think I'm slacking."]
    assert seeker_clauses("My friends said that I could do better, and that he didn't deserve me.") == [
        "My friends said that I could do better, and that he didn't deserve me."]
    assert seeker_clauses("I might lose my job, or they cut my hours, but I have savings") == [
        "I might lose my job, or they cut my hours", "but I have savings"]
    assert seeker_clauses("I got laid off in January. I am very worried (1)") == [
        "I got laid off in January.", "I am very worried"]
    assert seeker_clauses("I'm an accountant (9)") == ["I'm an accountant"]
    assert seeker_clauses("My husband and I are separating, and I have two kids") == [
        "My husband and I are separating", "and I have two kids"]
    assert seeker_clauses("I love my job, but it is stressful, and I have two kids") == [
        "I love my job", "and I have two kids"]
    # a reason cut off from its clause does not take the first-person clause after it for a clause of its own
    assert seeker_clauses("Not really, we've been staying away because of Covid, which I actually had last month.") == [
        "we've been staying away because of Covid, which I actually had last month."]


def test_a_modifier_stays_with_its_clause_and_a_continuation_with_its_subject():
    # cut off, the condition would leave "I will lose my house" as a fact
    assert seeker_clauses("Yes, if I lose my job, I will lose my house") == ["if I lose my job, I will lose my house"]
    assert seeker_clauses("I love my job. But if I stop, I can no longer afford bills.") == [
        "I love my job.", "But if I stop, I can no longer afford bills."]  # behind a conjunction too
    assert seeker_clauses("In the past, I had fun with him, now I am lonely") == [
        "In the past, I had fun with him", "now I am lonely"]
    assert seeker_clauses("I will be fine, if he comes back, and I have a plan") == [
        "I will be fine, if he comes back", "and I have a plan"]
    assert seeker_clauses("Due to the mandates in my area, I would be required to wear a mask.") == [
        "Due to the mandates in my area, I would be required to wear a mask."]  # a reason, not a clause of its own
    assert seeker_clauses("I think if I am late again, I will be let go.") == [
        "I think if I am late again, I will be let go."]  # the condition a hedge opened holds what follows it
    # a piece without a subject of its own continues the clause before it instead of being lost
    assert seeker_clauses("I have had back surgery, tried Yoga, and physical therapy.") == [
        "I have had back surgery, tried Yoga, and physical therapy."]
    assert seeker_clauses("I feel lonely, going in circles in my head, and I can't sleep") == [
        "I feel lonely, going in circles in my head", "and I can't sleep"]
    assert seeker_clauses("My boyfriend and I just broke up, and I am sad") == [
        "My boyfriend and I just broke up", "and I am sad"]
    assert seeker_clauses("So I guess me and my bf just have to hang out online, and I hate it") == [
        "So I guess me and my bf just have to hang out online", "and I hate it"]
    assert seeker_clauses("My dad and my GF's dad both have opinions, and I hate it") == [
        "My dad and my GF's dad both have opinions", "and I hate it"]
    assert seeker_clauses("my sister and my brother in law got a divorce") == ["my sister and my brother in law got a divorce"]
    # the last thing named after "and" is what the clause names too, not a clause of its own
    assert seeker_clauses("I am very sad about this country and my work situation.") == [
        "I am very sad about this country and my work situation."]
    assert seeker_clauses("My boss is kind, and I love my wife and my great kids") == [
        "My boss is kind", "and I love my wife and my great kids"]
    # two noun phrases answering a question are no joint subject: not one clause of the seeker's
    assert "The ongoing pandemic and my financial situation." not in seeker_clauses(
        "The ongoing pandemic and my financial situation. I am unemployed.")
    assert seeker_clauses("I am sad because my partner and i broke up") == ["I am sad", "because my partner and i broke up"]
    assert seeker_clauses("My best friend and I constantly argue") == ["My best friend and I constantly argue"]
    assert seeker_clauses("I lost my job and I can't find another") == ["I lost my job", "and I can't find another"]
    assert seeker_clauses("I'm so scared I or my Mom will get it, and I can't sleep") == [
        "I'm so scared I or my Mom will get it", "and I can't sleep"]
    # what the seeker fears, feels or was told goes on past "and": the clause after it is not a fact of its own
    assert seeker_clauses("I fear that I will bring this home to my family and I will not survive it.") == [
        "I fear that I will bring this home to my family and I will not survive it."]
    assert seeker_clauses("I'm worried that if my grades drop, then I might lose my scholarship.") == [
        "I'm worried that if my grades drop, then I might lose my scholarship."]
    assert seeker_clauses("Yes but I'm still anxious that I won't prepare enough and I'll get bad grades") == [
        "but I'm still anxious that I won't prepare enough and I'll get bad grades"]  # "anxious that" frames both
    assert seeker_clauses("I get nervous that I'm being fired and I'm worried I made a mistake going on disability.") \
        == ["I get nervous that I'm being fired", "and I'm worried I made a mistake going on disability."]  # its own
    assert seeker_clauses("It makes me anxious when I have to attend meetings, I have to leave my camera off.") == [
        "It makes me anxious when I have to attend meetings", "I have to leave my camera off."]  # only "that" follows
    assert seeker_clauses("I think I am a good mom and I have two kids") == [
        "I think I am a good mom and I have two kids"]
    # a purpose is not a fact of its own; a result is
    assert seeker_clauses("I want to get a good paying job so I can live somewhere better") == [
        "I want to get a good paying job so I can live somewhere better"]
    assert seeker_clauses("I am so stressed so I can't sleep") == ["I am so stressed", "so I can't sleep"]
    assert seeker_clauses("I'm worried how it'll go though because we have kids") == [
        "I'm worried how it'll go though", "because we have kids"]  # "though" ends the clause before the reason


def test_a_quote_of_part_of_a_sentence_knows_where_it_stands_and_what_holds_it():
    from extractor.grounding import is_quote_part
    from extractor.statements import wider_stretches, with_hedges, word_span

    said = "Thanks. I guess I am the only kid. Even the thought of going out fills me with worry and I start to panic."
    assert not is_quote_part("I am the only kid", "I am the only kid.")
    assert not is_quote_part("I lost my job.", "Yes, I lost my job")  # an answer word is not a part
    assert is_quote_part("I am the only kid.", said) and not is_quote_part("I am an only child.", said)
    at = word_span("i am the only kid.", said)
    assert said[at[0]:at[1]] == "I am the only kid."
    start, end = with_hedges(said, *at)
    assert said[start:end] == "I guess I am the only kid."
    burnt = "I'm just burnt out I think. Work is hard."
    start, end = with_hedges(burnt, *word_span("I'm just burnt out.", burnt))
    assert burnt[start:end] == "I'm just burnt out I think."
    assert with_hedges("I like cats maybe more than dogs", 0, 11) == (0, 11)  # "maybe" belongs to what follows
    done = "I know my work speaks for itself. I think I need more confidence."
    at = word_span("I know my work speaks for itself.", done)
    assert with_hedges(done, *at) == at  # the sentence ended: "I think" opens the next one
    texas = "i live in texas, if i press charges, the state will press charges against me."
    start, end = with_hedges(texas, *word_span("the state will press charges against me.", texas))
    assert texas[start:end] == "if i press charges, the state will press charges against me."
    mom = "I feel like if I keep my grades up, my mom should be proud of me."
    start, end = with_hedges(mom, *word_span("my mom should be proud of me.", mom))
    assert mom[start:end] == mom  # the condition, then the hedge before it
    school = "I was doing okay in school, but I lost all my friends."
    at = word_span("I lost all my friends.", school)
    assert with_hedges(school, *at) == at  # no condition right before it
    for turn, part in (("I never know if she is okay or not, she doesn't call me.", "she doesn't call me."),
                       ("I hope so, but if not, I have lost my friends.", "I have lost my friends.")):
        at = word_span(part, turn)
        assert with_hedges(turn, *at) == at  # "if" after "know" asks whether; "if not" belongs to what came before
    panic = word_span("I start to panic.", said)
    assert [said[a:b] for a, b in wider_stretches(said, *panic)] == [
        "and I start to panic.", "Even the thought of going out fills me with worry and I start to panic."]
    assert wider_stretches(said, *word_span("I guess I am the only kid.", said)) == []  # a whole sentence already


def test_a_reason_in_the_first_person_after_a_clause_is_a_fact_of_its_own():
    # "X because Y" states both X and Y
    assert seeker_clauses("I've been having anxiety issues because my job is unfulfilling") == [
        "I've been having anxiety issues", "because my job is unfulfilling"]
    assert atomic_clauses("we are quarantined because my son was exposed to a coworker") == [
        "we are quarantined", "because my son was exposed to a coworker"]
    # ... but not a reason in the third person, one that opens the statement, or one after a fear or a thought
    assert seeker_clauses("I can't tell my boss, because he might fire me") == ["I can't tell my boss, because he might fire me"]
    assert seeker_clauses("Because I was sad, I left the party") == ["Because I was sad, I left the party"]
    assert seeker_clauses("I fear that he will leave because I am sick") == ["I fear that he will leave because I am sick"]
    assert seeker_clauses("I think its because I always wear a mask") == ["I think its because I always wear a mask"]
    assert seeker_clauses("no because I didnt lose my job") == ["no because I didnt lose my job"]
    for said, held in (("I'm upset because I want to call her off, not because I lost a friendship.", "because I"),
                       ("She moved out of our dorm room just because I'm still with my boyfriend.", "because I'm"),
                       ("I got through it because I knew how to meditate and because I took walks.", "because I took"),
                       ("Maybe I'm not able to do well because I'm stupid.", "because I'm")):
        assert not any(c.startswith(held) for c in seeker_clauses(said)), said


def test_only_a_statement_of_clauses_that_each_stand_alone_splits_whole():
    assert atomic_clauses("I lost my job and I can't find another") == ["I lost my job", "and I can't find another"]
    assert atomic_clauses("I love my job, but it is stressful") == []  # the second clause would be lost
    assert atomic_clauses("I can't tell my boss, because he might fire me") == []  # one clause
    assert atomic_clauses("I have two kids") == []


# ------------------------------------------------------------------------------------------ the shipped judges
@pytest.fixture(scope="module")
def check():
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.verifier import PersonaCheck

    check_judges(JUDGES_DIR)
    return PersonaCheck(SupportScorer(minilm_embedder()))


def kept(verdicts):
    return [v.sentence for v in verdicts if v.kept]


def test_an_error_of_the_extractor_is_dropped_and_the_seekers_own_fact_kept(check):
    inp = ExtractionInput(("My sister is a nurse, and I work in retail.",), "What do you do for a living?")
    verdicts = check.check(inp, ["I am a nurse."])
    assert not verdicts[0].kept  # the verifier, or after it the meaning rules, see whose fact it is
    assert verdicts[0].reason in (NOT_STATED, SUBJECT_CHANGED)
    assert "I work in retail." in kept(verdicts) or "I work in retail" in kept(verdicts)
    fallback = [v for v in verdicts if v.fallback]
    assert fallback and all(v.span is not None for v in fallback)
    for v in fallback:  # the span is the stretch of the seeker's words the clause is
        assert inp.utterances[0][v.span[0]:v.span[1]].lower().rstrip(".") == v.sentence.lower().rstrip(".")


def test_a_copied_turn_counter_is_dropped_from_a_kept_sentence(check):
    inp = ExtractionInput(("I have not needed a resume for over 10 years (7)",), "Have you updated your resume?")
    verdicts = check.check(inp, ["I have not needed a resume for over 10 years (7)"])
    assert verdicts[0].kept and verdicts[0].sentence == "I have not needed a resume for over 10 years"
    assert verdicts[0].proposed == "I have not needed a resume for over 10 years (7)"
    assert not any(v.fallback for v in verdicts)  # the clause is the kept sentence's evidence


def test_a_proposal_that_restates_part_of_its_clause_gives_way_to_the_clause(check):
    inp = ExtractionInput(("I love hiking and camping and fishing in the mountains with my dad.",), "What do you do for fun?")
    verdicts = check.check(inp, ["I love hiking."])
    assert verdicts[0].reason == PARTIAL  # camping, fishing and the mountains would be lost
    assert kept(verdicts) == [inp.utterances[0]]
    assert verdicts[1].fallback and verdicts[1].span == (0, len(inp.utterances[0]))


def test_a_proposal_resting_on_more_than_the_clause_stays_and_the_clause_is_kept_beside_it(check):
    inp = ExtractionInput(("hey . . . i am a dog person , i have two",), "Do you have pets?")
    verdicts = check.check(inp, ["i have two dogs."])  # rests on both clauses: "i have two" would be lost with it
    assert kept(verdicts) == ["i have two dogs.", "i am a dog person"]


def test_a_clause_no_proposal_took_is_kept_only_when_the_fact_classifier_is_sure(check):
    from extractor.verifier import PersonaCheck

    inp = ExtractionInput(("I was laid off in March and my wife is sick with cancer.",), "How are things?")
    assert kept(check.check(inp, ["My wife is sick."])) == ["My wife is sick.", "I was laid off in March"]
    strict = PersonaCheck(check.scorer, settings=CheckSettings(clause_fact=1.0))
    assert kept(strict.check(inp, ["My wife is sick."])) == ["My wife is sick."]


def test_a_proposal_of_several_clauses_becomes_those_facts_each_with_its_span(check):
    from extractor.verifier import SPLIT_LEFT_OUT, PersonaCheck

    said = "Well I am on short term disability and I do not have any job protection, but I think it would."
    inp = ExtractionInput((said,), "How is work going?")
    proposal = "I am on short term disability and I do not have any job protection, but I think it would."
    verdicts = check.check(inp, [proposal])
    assert kept(verdicts) == ["I am on short term disability", "I do not have any job protection"]
    assert all(v.proposed == proposal and v.part is not None for v in verdicts)
    for v in verdicts:
        if v.kept:
            assert said[v.span[0]:v.span[1]] == v.sentence
        else:  # "I think it would" says nothing of the seeker's life
            assert v.reason == SPLIT_LEFT_OUT and v.sentence == "but I think it would."
    whole = PersonaCheck(check.scorer, settings=CheckSettings(split=False))
    assert kept(whole.check(inp, [proposal])) == [proposal]


def test_a_clause_that_lost_its_opening_words_still_holds_the_proposal_that_restates_part_of_it(check):
    said = ("yes i have but because i am also at home with my son for school i need a work from home job "
            "which has been hard to find")
    verdicts = check.check(ExtractionInput((said,), "Have you looked for work?"), ["i have a work from home job."])
    assert kept(verdicts) == ["i am also at home with my son for school i need a work from home job which has been hard "
                              "to find"]  # "i have but because" dropped from the clause; the proposal it held with it
    assert verdicts[0].reason == PARTIAL


@pytest.mark.xfail(strict=True, reason="known limit: neither the verifier (P 0.002) nor the rewrite judge (P 0.008) "
                                       "passes 'I lost my job.' from 'I got laid off'; the implied-fact judges on SmolLM2 "
                                       "give it P 0.71-0.84, and even asked only about one-phrase rewrites they add "
                                       "rewrites about twice as often unfaithful as those the check keeps (17-19 % "
                                       "against 9-10 % on the test part), so none is shipped (docs/personas.md)")
def test_an_implied_fact_is_kept_with_its_evidence_span(check):
    inp = ExtractionInput(("I got laid off last week and I am scared.",), "How are you doing today?")
    verdicts = check.check(inp, ["I lost my job."])
    assert kept(verdicts) == ["I lost my job."]
    start, end = verdicts[0].span
    assert "laid off" in inp.utterances[0][start:end]


def test_the_implied_fact_judge_is_asked_only_when_turned_on_and_keeps_what_it_is_sure_of(check, tmp_path):
    from extractor.verifier import JUDGES, PersonaCheck

    for task in JUDGES:
        (tmp_path / task).symlink_to(JUDGES_DIR / task)
    with pytest.raises(InputError, match="implied judge is missing"):
        check_judges(tmp_path, JUDGES + ("implied",))
    Judge(JudgeConfig(task="implied", lora_r=2, lora_alpha=4, threshold=0.0)).save(tmp_path / "implied")
    assert set(check_judges(tmp_path, JUDGES + ("implied",))) == {*JUDGES, "implied"}
    inp = ExtractionInput(("I got laid off last week and I am scared.",), "How are you doing today?")
    off = check.check(inp, ["I lost my job."])[0]
    assert not off.kept and off.reason == NOT_STATED and off.implied is None
    on = PersonaCheck(check.scorer, judges=tmp_path, settings=CheckSettings(implied_judge=True))
    first = on.check(inp, ["I lost my job.", "I am not scared.", "I lost my job and my car last week."])
    assert first[0].kept and first[0].implied is not None and first[0].stated < on.verifier().config.threshold
    assert "laid off" in inp.utterances[0][first[0].span[0]:first[0].span[1]]
    assert not first[1].kept and first[1].implied is None  # the meaning rules drop it first: the judge is not asked
    assert not first[2].kept and first[2].implied is None  # more than one phrase in other words: not asked either
    ungated = PersonaCheck(check.scorer, judges=tmp_path, settings=CheckSettings(implied_judge=True, implied_gate=False))
    assert ungated.check(inp, ["I lost my job and my car last week."])[0].implied is not None


def test_a_sentence_that_borrows_the_seekers_words_for_another_fact_is_not_stated(check):
    inp = ExtractionInput(("now that i am older home depot is my toy r us .",), "what do you do for fun ?")
    verdicts = check.check(inp, ["i have a toy car."])
    assert not verdicts[0].kept and verdicts[0].reason == NOT_STATED


def test_a_rewrite_that_changes_the_seekers_words_gives_way_to_the_seekers_clause(check):
    from extractor.verifier import CHANGED, PersonaCheck

    inp = ExtractionInput(("I hate orange. It is such a loud color.",), "What is your favorite color?")
    verdicts = check.check(inp, ["I like orange."])  # the verifier passes it: it shares the seeker's words
    assert not verdicts[0].kept and verdicts[0].reason == CHANGED and verdicts[0].faithful < 0.5
    assert any("I hate orange" in v.sentence for v in verdicts if v.kept and v.fallback)
    rules_only = PersonaCheck(check.scorer, settings=CheckSettings(rewrite=False))
    rules_only._loaded = check._loaded
    verdicts = rules_only.check(inp, ["I like orange."])
    assert verdicts[0].reason == NEW_WORD and verdicts[0].faithful is None  # the lexical rule catches this one too


def test_only_a_rewrite_is_judged_and_implied_lets_a_sure_judge_overrule_new_word(check):
    from extractor.verifier import PersonaCheck, check_settings

    said = "I'm having a problem with one of my friends. She stopped talking to me."
    inp = ExtractionInput((said,), "How can I help you today?")
    quote, rewrite = check.check(inp, ["I'm having a problem with one of my friends.",
                                       "I have a problem with one of my friends."])[:2]
    assert quote.kept and quote.faithful is None  # the seeker's own words: nothing to judge
    assert rewrite.faithful is not None and rewrite.faithful >= check.rewriter().config.threshold
    inp = ExtractionInput(("I am being bullied by my coworkers at my job.",), "What is going on?")
    lenient = PersonaCheck(check.scorer, settings=CheckSettings(implied=0.95))
    lenient._loaded = check._loaded
    sure = lenient.check(inp, ["I am bullied by my coworkers at work."])[0]  # "work": a word the seeker did not use
    assert sure.faithful >= 0.95 and sure.kept
    strict = PersonaCheck(check.scorer, settings=CheckSettings(implied=1.0))
    strict._loaded = check._loaded
    assert strict.check(inp, ["I am bullied by my coworkers at work."])[0].reason == NEW_WORD
    args = argparse.Namespace(stated_by="verifier", no_meaning_check=False, fallback="uncovered",
                              allow_new_words=False, clause_fact=0.98, implied=1.5)
    with pytest.raises(InputError, match="--implied must be a probability"):
        check_settings(args)


def test_a_quote_of_part_of_a_sentence_takes_back_its_hedge_and_grows_when_the_judge_doubts_it(check):
    from extractor.verifier import HEDGE_KEPT, WIDENED, PersonaCheck, check_settings

    inp = ExtractionInput(("Grandma gave us a home but... I guess I am the only kid. Christ.",), "Do you have siblings?")
    hedged = [v for v in check.check(inp, ["I am the only kid."]) if v.kept]
    assert [v.sentence for v in hedged] == ["I guess I am the only kid."]
    assert hedged[0].widened == HEDGE_KEPT and hedged[0].proposed == "I am the only kid."
    said = "Even the thought of leaving the house fills me with worry and I start to feel panicked. I have two kids."
    inp = ExtractionInput((said,), "How are you coping?")
    doubting = PersonaCheck(check.scorer, settings=CheckSettings(part=1.0))  # every quote part is doubted
    doubting._loaded = check._loaded
    verdicts = doubting.check(inp, ["I start to feel panicked.", "I have two kids."])
    grown = [v for v in verdicts if v.widened == WIDENED]
    assert [v.sentence for v in grown] == [
        "Even the thought of leaving the house fills me with worry and I start to feel panicked."]
    assert grown[0].proposed == "I start to feel panicked." and grown[0].faithful < 1.0
    assert said[grown[0].span[0]:grown[0].span[1]] == grown[0].sentence
    assert "I have two kids." in kept(verdicts)  # a whole sentence: nothing to grow
    assert not any(v.kept and v.sentence != grown[0].sentence and v.sentence in grown[0].sentence for v in verdicts)
    args = argparse.Namespace(stated_by="verifier", no_meaning_check=False, fallback="uncovered",
                              allow_new_words=False, clause_fact=0.98, implied=0.9, part=2.0)
    with pytest.raises(InputError, match="--part must be a probability"):
        check_settings(args)


def test_the_extractor_is_asked_only_about_turns_that_may_state_a_persona_fact(check):
    """The fact classifier reads the seeker's statements and clauses before the model runs: thanks and agreement
    are not worth a model call, a life event is; with --ask 0 every turn is."""
    from dataclasses import replace

    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.verifier import PersonaCheck

    inputs = [ExtractionInput(("I got laid off last week and I am scared.",), "How are you?"),
              ExtractionInput(("Thank you, I appreciate your suggestions.",), "Maybe try a walk."),
              ExtractionInput(("thank you i feel energized now",), ""),
              ExtractionInput(("Ok thanks.", "We have been friends for 13 years"), "")]
    assert check.worth_asking(inputs) == [True, False, False, True]
    assert check.seconds["ask"] > 0
    every = PersonaCheck(SupportScorer(minilm_embedder()), settings=replace(check.settings, ask=0.0))
    assert every.worth_asking(inputs) == [True] * 4 and "ask" not in every.seconds


def test_the_fact_classifier_reads_a_seekers_clause_once_for_the_asking_and_the_check():
    """The build's steps in one worker share a PersonaCheck, and its classifier scores each distinct sentence once:
    the clause read to decide whether to ask is not read again when the check keeps it."""
    import gc

    from apache_beam.utils import shared

    from pipelines.build_settings import BuildSettings
    from pipelines.build_steps import persona_check

    persona_check(BuildSettings()).marked = True
    shared.Shared().acquire(lambda: Judge.__new__(Judge))  # as RunInference takes its model between the two steps
    gc.collect()
    assert getattr(persona_check(BuildSettings()), "marked", False)
    other = persona_check(BuildSettings(check=dataclasses.replace(BuildSettings().check, ask=0.1)))
    assert other is not persona_check(BuildSettings()) and other.settings.ask == 0.1
    check = persona_check(BuildSettings())
    read: list[str] = []
    judge = check.classifier()
    original = judge.probability

    def counted(pairs, *args, **kw):
        read.extend(a for a, _ in pairs)
        return original(pairs, *args, **kw)

    judge.probability = counted
    try:
        inp = ExtractionInput(("Hello. I work at a bakery and I have two dogs.",), "How are you?")
        assert check.worth_asking([inp]) == [True]
        first = len(read)
        verdicts = check.check(inp, ["I work at a bakery and I have two dogs."])
    finally:
        judge.probability = original
    assert kept(verdicts) == ["I work at a bakery", "I have two dogs."]
    assert first > 0 and len(read) == len(set(read))  # nothing scored twice
    assert all(v.fact is not None for v in verdicts if v.kept)


def test_a_remark_to_the_supporter_is_not_a_persona_fact(check):
    inp = ExtractionInput(("Thank you so much for listening to me. I have two kids.",), "I hope that helps.")
    verdicts = check.check(inp, ["Thank you so much for listening to me.", "I have two kids."])
    assert kept(verdicts) == ["I have two kids."]


# ------------------------------------------------------------------------------------------ the build, as shipped
@pytest.mark.slow
def test_the_build_and_the_evaluation_keep_the_same_sentences_with_their_spans(tmp_path, small_esconv):
    import argparse

    import pyarrow.parquet as pq

    from extractor.grounding import SupportScorer, minilm_embedder
    from pipelines.build_pesconv import main
    from pipelines.evaluate_extractor import Runner, build_check, evaluate_esconv
    from schemas.esconv import read_dialogs
    from tests.helpers import read_manifest

    out = tmp_path / "build"
    assert main(["--input", str(small_esconv / "valid.json"), "--output", str(out), "--extractor", "rule"]) == 0
    manifest = read_manifest(out)
    assert manifest["settings"]["persona_style"] == "fact" and manifest["grounding"]["style"] == "fact"
    assert set(manifest["grounding"]["judges"]) == {"verifier", "fact", "rewrite"}
    seconds = manifest["check_time_s"]  # the check's time, each model's apart (summed over workers)
    assert {"all", "verifier", "fact classifier", "sentence embeddings", "rules and the rest",
            "fact classifier (which inputs to ask)"} <= set(seconds)
    assert seconds["all"] + 0.2 >= seconds["verifier"] + seconds["fact classifier"] and seconds["verifier"] > 0
    built = {r["dialog_id"]: r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()}
    assert any(r["persona"] for r in built.values())
    for row in built.values():
        assert len(row["persona_span"]) == len(row["persona"]) == len(row["persona_evidence"]) == len(
            row["persona_standalone"])
        assert all(0.0 <= p <= 1.0 for p in row["persona_standalone"])
        assert all(len(t["persona_standalone"]) == len(t["persona"]) for t in row["dialog"])
        for sentence, turn, (start, end) in zip(row["persona"], row["persona_evidence"], row["persona_span"]):
            text = row["dialog"][turn]["text"]
            assert 0 <= start < end <= len(text), (sentence, text)

    args = argparse.Namespace(device="cpu", keep_remarks=False, keep_paraphrases=False, persona_style="fact",
                              judges=str(JUDGES_DIR), extractor="rule", adapter="none", also_adapter=[],
                              no_baselines=True, baselines=[], context=["utterance"], start_utterance=3, seed=13,
                              cache=None, batch_size=8, max_new_tokens=8, stated_by="verifier",
                              no_meaning_check=False, fallback=CheckSettings().fallback,
                              allow_new_words=False, clause_fact=CheckSettings().clause_fact)
    dialogs, _ = read_dialogs(small_esconv / "valid.json")
    _, shown = evaluate_esconv(dialogs, Runner(args), SupportScorer(minilm_embedder()), build_check(args), args)
    evaluated = {d["dialog_id"]: d["persona"] for d in shown["extractor"]}
    assert evaluated == {k: r["persona"] for k, r in built.items()}


def test_blind_audit_hides_the_systems_and_scores_each(tmp_path, tiny_build):
    import csv
    import json

    from research.blind_audit import COLUMNS, draw, score

    tsv = tmp_path / "blind.tsv"
    n = draw([tiny_build, tiny_build], ["a", "b"], 4, 1, tsv)
    rows = list(csv.DictReader(tsv.open(encoding="utf-8"), delimiter="\t"))
    assert n == len(rows) == 4 and tuple(rows[0]) == COLUMNS  # no system column
    key = json.loads((tmp_path / "blind.tsv.key.json").read_text())["items"]
    assert sorted(v["system"] for v in key.values()) == ["a", "a", "b", "b"]
    with pytest.raises(InputError, match="no label"):
        score(tsv)
    for r, label in zip(rows, ("faithful", "unfaithful", "faithful", "not_a_fact")):
        r["label"] = label
    with tsv.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, COLUMNS, delimiter="\t", lineterminator="\n")
        out.writeheader()
        out.writerows(rows)
    table = score(tsv)
    assert "| a | 2 |" in table and "| b | 2 |" in table
    # --changed: only what one build holds and the other does not; a build against itself has nothing
    assert draw([tiny_build, tiny_build], ["a", "b"], 4, 1, tmp_path / "changed.tsv", changed=True) == 0
    # --whole-dialog: every turn before the evidence turn, numbered, in place of the supporter's message
    draw([tiny_build, tiny_build], ["a", "b"], 4, 1, tmp_path / "whole.tsv", whole_dialog=True)
    shown = list(csv.DictReader((tmp_path / "whole.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert any(r["supporter_before"] for r in shown)
    assert all(r["supporter_before"].startswith("[0] ") for r in shown if r["supporter_before"])


def test_viewer_marks_the_evidence_span():
    from analysis.browse import evidence_spans, marked

    text = "My sister is a nurse, and I work in <retail>."
    assert marked(text, [(26, 44), (0, 20)]) == ("<mark>My sister is a nurse</mark>, and <mark>I work in &lt;retail&gt;"
                                                 "</mark>.")
    assert marked(text, [(-1, -1)]) == "My sister is a nurse, and I work in &lt;retail&gt;."
    assert evidence_spans({"persona_evidence": [3, 3, 5], "persona_span": [[0, 4], [-1, -1], [2, 6]]}) == {
        3: [(0, 4)], 5: [(2, 6)]}


def test_scoring_a_trained_verifier_again_keeps_its_weights(tmp_path):
    from extractor.cross_encoder import file_hash
    from pipelines.train_judges import main as train_judges

    judge = Judge(JudgeConfig(task="verifier", lora_r=2, lora_alpha=4))
    judge.save(tmp_path / "verifier", {"code": "git:trained"})
    before = file_hash(tmp_path / "verifier" / "judge.safetensors")
    assert train_judges(["--task", "verifier", "--score-only", "--out", str(tmp_path), "--no-progress"]) == 0
    assert file_hash(tmp_path / "verifier" / "judge.safetensors") == before
    rescored = load_judge(tmp_path / "verifier", "verifier")  # the LoRA weights are still there
    assert 0.05 <= rescored.config.threshold <= 0.95
    card = (tmp_path / "model_card.md").read_text()
    assert "Sentences with a word the seeker did not use" in card and "| test | 210 | 84 |" in card


def test_the_rewrite_judge_starts_from_the_verifier_and_is_tuned_on_dev_scored_on_test(tmp_path):
    import json

    from pipelines.train_judges import main as train_judges

    assert train_judges(["--task", "rewrite", "--replay", "16", "--edits", "16", "--epochs", "0.01", "--written-facts",
                         "--out", str(tmp_path), "--no-progress"]) == 0
    judge = load_judge(tmp_path / "rewrite", "rewrite")
    saved = json.loads((tmp_path / "rewrite" / "judge_config.json").read_text())
    assert 0.05 <= judge.config.threshold <= 0.95 and 0.0 < saved["implied"] <= 1.0 and saved["from"] == "verifier"
    card = (tmp_path / "model_card.md").read_text()
    assert "## Rewrite judge" in card and "Test part:" in card and "the rules, then the judge" in card
    assert "### Quotes of part of a sentence" in card and 0.05 <= saved["part"] <= 0.95
    assert "esconv written fact, labelled implied (+)" in card and "### Written facts" in card


def test_the_implied_fact_judge_trains_on_written_facts_and_is_tuned_on_dev_scored_on_test(tmp_path):
    from pipelines.train_judges import implied_threshold
    from pipelines.train_judges import main as train_judges

    # the lowest P(implied) at which at most 5 % of the kept say more
    assert implied_threshold([0.2, 0.5, 0.6, 0.9, 0.95], [0, 0, 1, 1, 1]) == 0.6
    assert implied_threshold([0.2, 0.9], [1, 0]) == 1.0  # none such
    assert train_judges(["--task", "implied", "--epochs", "0.01", "--out", str(tmp_path), "--no-progress"]) == 0
    judge = load_judge(tmp_path / "implied", "implied")
    assert 0.0 < judge.config.threshold <= 1.0
    card = (tmp_path / "model_card.md").read_text()
    assert "## Implied-fact judge" in card and "| test | 210 | 84 |" in card and "| contrast AUC |" in card
    assert "esconv written fact (more), labelled implied (+)" in card and "The judge passes" in card
    assert "contrast: an implied fact beside another dialog's turn (-)" in card


def test_contrast_pairs_give_each_written_sentence_the_other_label_beside_another_turn():
    from extractor.grounding import lexical_overlap
    from extractor.judge_data import contrast_pairs, seeker_words, written_examples

    rows = written_examples("test")
    flipped = contrast_pairs(rows)
    assert len(flipped) >= 0.95 * len(rows)
    labels = {}
    for e in rows:
        labels.setdefault(e.second, set()).add(e.label)
    for e in flipped:
        assert 1 - e.label in labels[e.second]  # the same sentence, the other label
        if e.label:  # a sentence that says more, said after its own turn
            assert e.first.endswith(" " + e.second) and any(r.first + " " + e.second == e.first for r in rows)
        else:  # an implied fact beside a turn of another dialog that shares few of its words
            assert not any(r.first == e.first and r.second == e.second for r in rows)
            assert lexical_overlap(e.second, seeker_words(e.first)) < 0.2
    assert contrast_pairs(rows) == flipped  # seeded


def test_edited_facts_make_each_faithful_sentence_false_beside_its_own_turn():
    from extractor.judge_data import edited_facts, rewrite_examples, written_examples

    rows = written_examples("test") + rewrite_examples("test")
    edited = edited_facts(rows)
    faithful = {(e.first, e.group) for e in rows if e.label == 1}
    assert 0.5 * len(faithful) <= len(edited) <= sum(e.label for e in rows)  # at most one edit per faithful sentence
    assert all(e.label == 0 and (e.first, e.group) in faithful and e.kind.startswith("edit of a faithful sentence")
               for e in edited)
    assert {e.kind.split(": ")[1] for e in edited} >= {"negation", "someone else", "antonym"}
    assert edited_facts(rows) == edited  # seeded
    assert edited_facts([e for e in rows if e.label == 0]) == []


def test_rewrite_edits_change_the_meaning_or_only_the_form():
    from extractor.judge_data import rewrite_edits

    edits = {k: (e, y) for k, e, y in rewrite_edits("I sometimes wake up panicking.")}
    assert edits == {"hedge dropped": ("I wake up panicking.", 0)}
    edits = {k: (e, y) for k, e, y in rewrite_edits("I'm anxious and I have been applying everywhere.")}
    assert edits["intensity added"] == ("I'm very anxious and I have been applying everywhere.", 0)
    assert edits["garbled"] == ("I'm anxious and I has been applying everywhere.", 0)
    assert edits["contraction written out"] == ("I am anxious and I have been applying everywhere.", 1)
    assert rewrite_edits("I am very tired") == [("garbled", "I is very tired", 0)]  # already intense: no "very very"


def test_a_first_person_reason_and_a_trailing_comma_in_the_seekers_clauses(check):
    said = "I have anxiety at work because I feel like I am horrible at my job,"
    verdicts = [v for v in check.check(ExtractionInput((said,), "How are you?"), []) if v.kept]
    assert [v.sentence for v in verdicts] == ["I have anxiety at work", "I feel like I am horrible at my job"]
    assert [said[a:b] for a, b in (v.span for v in verdicts)] == [v.sentence for v in verdicts]


def test_a_clause_split_at_its_reason_stays_whole_when_neither_piece_is_a_fact(check):
    from extractor.verifier import reasons_kept_whole

    said = "I'm shaking because I don't know what I'm going to do."
    assert reasons_kept_whole(said) == {said: ("I'm shaking", "because I don't know what I'm going to do.")}
    verdicts = [v for v in check.check(ExtractionInput((said,), "What is going on?"), []) if v.kept]
    assert [(v.sentence, v.fallback, v.span) for v in verdicts] == [(said, True, (0, len(said)))]
    said = "I have anxiety at work because I feel like I am horrible at my job."  # the pieces pass: no whole
    kept = [v.sentence for v in check.check(ExtractionInput((said,), "How are you?"), []) if v.kept]
    assert kept == ["I have anxiety at work", "I feel like I am horrible at my job."]
    assert reasons_kept_whole("I can't tell my boss, because he might fire me.") == {}  # never split
    said = "I have been out of work for the past 5 weeks because I tested positive for COVID-19."
    kept = [v.sentence for v in check.check(ExtractionInput((said,), "What happened?"),
                                            ["I have been out of work for the past 5 weeks."]) if v.kept]
    assert said not in kept and "I have been out of work for the past 5 weeks." in kept  # a proposal rests on it
