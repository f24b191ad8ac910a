"""The meaning check: rewrites that keep the seeker's words but change what they said are caught; faithful
copies, shortenings and grammar fixes pass. Cases are taken from the full default build."""
from __future__ import annotations

import pytest

from extractor.grounding import SupportScorer, minilm_embedder
from extractor.meaning import (
    MODALITY_CHANGED,
    NEGATION_CHANGED,
    PARTS_JOINED,
    PERSON_CHANGED,
    QUANTITY_CHANGED,
    SUBJECT_CHANGED,
    TENSE_CHANGED,
    meaning_change,
    tokens,
)

CHANGED = [
    ("We are married but we live together.", "We are not married but we live together.", NEGATION_CHANGED),
    ("i just get a break.", "i just never get a break", NEGATION_CHANGED),
    ("I had stepped back from school.", "I hadn't stepped back from school.", NEGATION_CHANGED),
    ("I do not deserve better.", "I know. I do deserve better.", NEGATION_CHANGED),
    ("I can deny that what she said hurt.", "But I can't deny that what she said hurt.", NEGATION_CHANGED),
    ("I am very strict.", "No, my manager is very strict. I would not want to anger him.", SUBJECT_CHANGED),
    ("I was laid off three months ago", "I am the only breadwinner. My wife was laid off three months ago",
     SUBJECT_CHANGED),
    ("i have a groomer.", "interesting , one of my wives is a groomer .", SUBJECT_CHANGED),
    ("I work a lot so i can only really get out once a week.",
     "My husband works a lot so we can only really get out once a week.", SUBJECT_CHANGED),
    ("I have been engaging in group activities without me.",
     "Apparently they have been engaging in group activities without me.", SUBJECT_CHANGED),
    ("I went to a club last weekend.", "We went out for coffee and I thought about saying something cos I know they "
     "went to a club without me last weekend", SUBJECT_CHANGED),  # "they" right before the copy, "I know" before it
    ("I am not familiar with my course material.", "How are you going to help me study? I am not sure if you are "
     "familiar with my course material...", SUBJECT_CHANGED),  # the second copied run follows "you are"
    ("I work in a restaurant.", "I worked in a restaurant as a server.", TENSE_CHANGED),
    ("I am currently working in a distant location.", "I was working in a distant location in a better job.",
     TENSE_CHANGED),
    ("I have a drinking challenge.", "I had a drinking challenge which has been affecting my marriage",
     TENSE_CHANGED),
    ("I see my family a lot.", "Every now and then I talk to a friend via text, I see my family rarely but will see "
     "them this weekend.", NEGATION_CHANGED),  # "rarely" all but negates
    ("I sleep at night.", "I barely sleep at night.", NEGATION_CHANGED),
    ("i have a garden.", "i have tried yoga and don't like it. I don't have a garden but i do enjoy my houseplants",
     NEGATION_CHANGED),
    ("i live in the city.", "no i dont live in the same city anymore", NEGATION_CHANGED),
    ("I am angry with my friend.", "Yes, I also realized that I wasn't angry with my friend but rather myself",
     NEGATION_CHANGED),
    ("i have to cut university short", "as i stated i had to cut university short", TENSE_CHANGED),
    ("i need new things.", "i needed a lot of new things at once since the old had worn out.", TENSE_CHANGED),
    ("I am a high school economics student.", "I was horrible in my high school economics class, I could have used "
     "your help for sure lol", TENSE_CHANGED),
    ("I have a lot of dear friends that have helped me a lot.",
     "Yes. I have some very dear friends that have helped me a lot.", QUANTITY_CHANGED),
    ("I always go out with my friends.", "I sometimes go out with my friends.", QUANTITY_CHANGED),
    # a word that limits how often or how much dropped from between copied words (blind audit v15, rewrite labels)
    ("I wake up in the middle of the night.", "I sometimes wake up in the middle of the night.", QUANTITY_CHANGED),
    ("i am worried about losing my job.", "i am worried a bit about losing my job", QUANTITY_CHANGED),
    # a wish, a plan, a condition or a guess stated as a fact (PERSONA-CHAT held-out pairs and the full build)
    ("i have a farm.", "one day i will haves me a farm and get to tend the bunnies .", MODALITY_CHANGED),
    ("I am a diplomat.", "Honestly, i'd really love to work as a diplomat or a civil servant", MODALITY_CHANGED),
    ("i follow him.", "yes. if i follow him, i will be the one to get hurt.", MODALITY_CHANGED),
    ("I also like yoga.", "I should try yoga. I sometimes do breathing exercises when I get really stressed.",
     MODALITY_CHANGED),
    ("I have a Zoom meeting for all of us.", "They are all at different schools, but maybe I can do a Zoom meeting "
     "for all of us.", MODALITY_CHANGED),
    ("I take your advice and just ignore them for a bit.", "I think you're right. I may take your advice and just "
     "ignore them for a bit.", MODALITY_CHANGED),
    ("I am a gym teacher.", "Oh, that's cool. I've always wanted to be a gym teacher.", MODALITY_CHANGED),
    # a negation under a paraphrase that copies no word as it is; someone else's thing made the seeker's; a past habit
    ("i enjoy playing music.", "like I don't play any musical instruments but that would be great", NEGATION_CHANGED),
    ("I do all my paperwork.", "my husband is self employeed I do all his paperwork, and he is not the empathetic kind",
     SUBJECT_CHANGED),
    ("I am afraid of losing my apartment.", "It makes me feel sad and lost. I'm afraid he's going to lose his apartment",
     SUBJECT_CHANGED),
    ("I volunteer at a nursing home.", "I use to volunteer at a nursing home, but I am afraid to now", TENSE_CHANGED),
    ("She hates who I'm dating and wants me to leave her.", "She hates who I'm dating and wants me to leave him",
     PERSON_CHANGED),
    ("I can see his point.", "I can see their point. They think he is using me for my car and money.", PERSON_CHANGED),
    ("Yes, and I have gotten his son to go to a therapist weekly.",
     "Yes, and I have gotten my son to go to a therapist weekly. He cannot take it out on us.", PERSON_CHANGED),
    ("i think he's pissed because i'm dating his ex.", "i think he's pissed because i'm dating my other ex again.",
     PERSON_CHANGED),
    ("I have been growing tomatoes for years.",
     "Nice! I've been trying to grow tomatoes for years, but I've never had much luck.", MODALITY_CHANGED),
    ("I broke my front teeth.", "I broke my foot and chipped my two front teeth.", PARTS_JOINED),
    ("I go part time.", "I go to school and work part time.", PARTS_JOINED),
]

KEPT = [
    ("I have a hut.", "I have a little hut."),  # a size, not an amount
    ("I have friends.", "I have some friends."),
    ("I do worry that he might be upset if I shared this", "That is a good idea. I do worry that he would be upset if I "
     "shared this with others he might know"),  # "he" kept before the copied run: no one else's predicate made mine
    ("I lost my job last week.", "Thank you. I lost my job last week."),  # a copy
    ("I lost my job and am worried about paying the bills.", "I just lost my job and am worried about paying the bills."),
    ("I live in a rural area.", "We live in a extremely rural area."),  # the seeker is one of "we"
    ("I have no health insurance.", "I have no job and no health insurance."),  # "no job" went with its "no"
    ("i am really depressed about the covid situation.", "i'm really depressed about the never ending covid situation"),
    ("i don't have time to prepare.", "i don' t have time to prepare."),  # a typo'd contraction
    ("I do try watching movies.", "I do tried watching movies."),  # a grammar fix, not a tense change
    ("my aunt passed away a couple weeks ago.", "yes, my aunt pass away a couple weeks ago"),  # present -> past
    ("I am depressed.", "Not good. I'm depressed."),
    ("I can not sleep.", "I can barely sleep."),  # a near-negation for a negation keeps the sense
    ("I rarely see my family.", "I see my family rarely."),
    ("I have had little time to grieve myself since she is my first priority.",
     "Thanks. I really have not had much time to grieve myself since she is my first priority."),
    ("I have a few close friends.", "I have some close friends."),
    # a "No" that answers the supporter negates nothing of what follows (full build)
    ("I have sent them a few emails about it.", "No, I have sent them a few emails about it. It makes me nervous."),
    ("I live with my older sister.", "Not really, I live with my older sister and she's an essential worker"),
    ("Sometimes it's hard to put myself first", "I try not to. Sometimes it's hard to put myself first"),
    ("I have not had any medical appointments.", "no I have not done any medical appointments since"),
    ("i have three dogs.", "good . tired . i had to walk my three dogs ."),  # the seeker's own dogs
    ("i donate a little to charity.", "ok . i always donate some of my salary to charity ."),
    ("I enjoy singing.", "love to sing"),  # nothing copied: the similarity test alone judges it
    # hedged either way, or the hedge is in another clause
    ("I can ask my sister to pretend to be my boss.", "Maybe I can ask my sister to pretend to be my boss."),
    ("I plan on going to the food bank on Monday.", "I plan on trying to go to the food bank Monday, if they are open."),
    ("I am considering going back to school to get a higher degree.",
     "I've been considering going back to school to see if I can maybe get a higher degree."),
    ("I go to school for nursing.", "I am going to school for nursing."),  # "going" is not a plan here
    ("I have two kids.", "I would love some advice. I have two kids."),
    ("I have been feeling very down lately.", "HI, I need help, I have been feeling very down lately."),
    ("i work in a shipyard.", "you would love the shipyard i work in then ."),  # the partner's "would"
    ("i have a dog walking business.", "cool well if you ever need them walked i have a dog walking business"),
    ("i am a gamer.", "that is interesting . i would consider myself a gamer ."),  # an opinion softened
    ("I imagine everything seems better with sleep", "Yeah, I would imagine everything seems better with sleep"),
    ("I have been unemployed for months.", "I haven't worked in months"),  # a paraphrase, no negated word kept
    ("I should have let him go off my life", "I should have let he go off my life"),  # "he" -> "him": grammar
    ("I have two kids.", "I have a wife and two kids."),  # one item of a list dropped
    ("I really want to move.", "I really need to find a new job and want to move."),  # the second verb kept
    ("I love my family.", "I love my job and my family."),
]


@pytest.mark.parametrize("sentence, utterance, reason", CHANGED)
def test_changed_meaning_is_caught(sentence, utterance, reason):
    assert meaning_change(sentence, utterance) == reason


@pytest.mark.parametrize("sentence, utterance", KEPT)
def test_faithful_rewrites_pass(sentence, utterance):
    assert meaning_change(sentence, utterance) is None


def test_tokens_expand_contractions():
    assert tokens("I can't, I'm sure; didnot") == ["i", "can", "not", ",", "i", "am", "sure", ";", "did", "not"]


def test_check_drops_changed_meaning_with_its_reason():
    """The build's check: the flip is similar enough to pass the similarity test, and is dropped for its meaning."""
    scorer = SupportScorer(minilm_embedder())
    utts = ["We are not married but we live together.", "My daughter was hit by a car in September."]
    sentences = ["We are married but we live together.", "I was hit by a car in September.",
                 "We are not married but we live together."]
    assert [x.supported for x in scorer.support(sentences, utts)] == [True, True, True]
    checked = scorer.check(sentences, utts)
    assert [x.reason for x in checked] == [NEGATION_CHANGED, SUBJECT_CHANGED, None]


def test_subject_and_tense_are_judged_within_the_copied_statement():
    """Against the whole utterance the sentence borrows "I am" from the first statement; against the statement it
    copies, the subject swap shows (a case from the full build)."""
    assert meaning_change("I am pretty sharp.", "I'm also pretty sure she's already aware. She's pretty sharp.") \
        == SUBJECT_CHANGED
    # a sentence joining two statements keeps both negations: no flip, though the closest statement alone lacks one
    assert meaning_change("We had a simple disagreement and now I can not get over it.",
                          "We had a simple disagreement. Now I can not get over it.") is None
    # questions are not statements: the copied words come from the seeker's answer, not from "have you ..."
    assert meaning_change("i go to disney world.", "have you ever been to disney world ? i go every year .") is None


def test_shipped_audit_matches_the_code():
    """Every audited drop is still dropped, for the recorded reason: the audit describes the check as it is."""
    from research.meaning_audit import read_audit

    audit = read_audit()
    assert len(audit) == 40 + 44 + 7 + 8 + 77  # the seeded sample, then every drop of the rules added after it
    assert [meaning_change(r["sentence"], r["utterance"]) for r in audit] == [r["reason"] for r in audit]


def test_audit_command_draws_and_reports(tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from common.cli import InputError
    from research.meaning_audit import main, read_audit

    build = tmp_path / "build"
    (build / "data").mkdir(parents=True)
    (build / "manifest.json").write_text(json.dumps({"grounding": {"generated": 10}}))
    dialog = [{"text": "Hi."}, {"text": "We are not married but we live together."}]
    pq.write_table(pa.table({"dialog_id": ["d1"], "dialog": [dialog]}), build / "data" / "train-00000-of-00001.parquet")
    drops = [{"dialog_id": "d1", "turn": 1, "sentence": "We are married but we live together.", "reason": NEGATION_CHANGED},
             {"dialog_id": "d1", "turn": 1, "sentence": "Thanks.", "reason": "not a statement about the seeker"}]
    (build / "unsupported.jsonl").write_text("".join(json.dumps(d) + "\n" for d in drops))
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    drawn = tmp_path / "draw.tsv"
    assert main(["--build", str(build), "--draw", str(drawn), "--model-card", str(card)]) == 0
    lines = drawn.read_text().splitlines()
    assert len(lines) == 2 and "We are not married but we live together." in lines[1]  # only the meaning drop
    assert "dropped 1 of 10" in card.read_text() and "## Meaning check" in card.read_text()
    with pytest.raises(InputError, match="label must be"):
        read_audit(drawn)  # drawn rows are unlabelled
