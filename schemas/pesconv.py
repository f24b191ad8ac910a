"""The PESConv output format: one row per dialog, as a pyarrow schema and as `datasets` features.

`persona` and each turn's `persona` are lists of sentences; beside each, `persona_evidence` holds,
for every sentence, the index in `dialog` of the seeker turn that stated it (evidence: any fact can
be checked against the seeker's own words), and `persona_span` the [start, end) characters of that turn's
text that support it ([-1, -1] where the check recorded none: the quote style, the cumulative input), and
`persona_standalone` the probability that the sentence reads as a fact without the dialog (`extractor.standalone`:
"He was my life." needs the turns before it). `persona_list` keeps PAL's layout (one string per
annotated seeker turn, the cumulative persona sentences joined by " <persona> ") so PAL's training
code can read the shards unchanged.
"""
from __future__ import annotations

import pyarrow as pa

PERSONA_JOINER = " <persona> "


def repeats_previous(text: str, speaker: str, previous_text: str, previous_speaker: str) -> bool:
    """A double submission: the same speaker's utterance again, word for word, right after itself. ESConv has 100
    (98 supporter turns, 11 of them in the test split, and 2 seeker turns). Such a turn says nothing new, and a
    model trained on it learns to copy. An echo of the other speaker ("Hello" - "Hello") is not one."""
    return speaker == previous_speaker and " ".join(text.split()).lower() == " ".join(previous_text.split()).lower()


SURVEY_TYPE = pa.struct([
    ("empathy", pa.int32()),
    ("relevance", pa.int32()),
    ("initial_emotion_intensity", pa.int32()),
    ("final_emotion_intensity", pa.int32()),
    ("supporter_relevance", pa.int32()),
])

TURN_TYPE = pa.struct([
    ("speaker", pa.string()),  # "seeker" | "supporter"
    ("text", pa.string()),
    ("strategy", pa.string()),  # canonical label on supporter turns, null on seeker turns
    ("feedback", pa.int32()),  # seeker per-turn feedback where the source has it
    ("persona", pa.list_(pa.string())),  # seeker persona visible at this turn (cumulative)
    ("persona_evidence", pa.list_(pa.int32())),  # per persona sentence: index in `dialog` of the seeker turn stating it
    ("persona_span", pa.list_(pa.list_(pa.int32()))),  # per persona sentence: [start, end) of that turn's text
    ("persona_standalone", pa.list_(pa.float32())),  # per persona sentence: P(it reads as a fact without the dialog)
    ("persona_inferred", pa.bool_()),  # True on the annotated seeker turns (from the start utterance on)
])

PESCONV_SCHEMA = pa.schema([
    ("dialog_id", pa.string()),
    ("split", pa.string()),
    ("source", pa.string()),  # input file and record index, e.g. "train.json#12"
    ("experience_type", pa.string()),
    ("emotion_type", pa.string()),
    ("problem_type", pa.string()),
    ("situation", pa.string()),
    ("survey_score", SURVEY_TYPE),
    ("dialog", pa.list_(TURN_TYPE)),
    ("persona", pa.list_(pa.string())),  # whole-dialog persona
    ("persona_evidence", pa.list_(pa.int32())),  # per whole-dialog persona sentence: its seeker turn in `dialog`
    ("persona_span", pa.list_(pa.list_(pa.int32()))),  # per whole-dialog persona sentence: [start, end) of its turn
    ("persona_standalone", pa.list_(pa.float32())),  # per whole-dialog persona sentence: P(it reads without the dialog)
    ("persona_list", pa.list_(pa.string())),  # PAL layout, one entry per annotated seeker turn
])

REJECT_SCHEMA = pa.schema([
    ("source", pa.string()),
    ("index", pa.int64()),
    ("line", pa.int64()),
    ("dialog_id", pa.string()),
    ("reason", pa.string()),
])


def pesconv_features():
    """The same schema as `datasets.Features` (imported lazily: datasets is heavy)."""
    from datasets import Features

    return Features.from_arrow_schema(PESCONV_SCHEMA)
