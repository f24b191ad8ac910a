"""What the extractor is asked for each dialog: the requests of both input forms, and where they sit.

Shared by the build (`pipelines.build_steps`), the evaluation and the benchmark, so all three
measure exactly the requests the build makes. No Beam here.
"""
from __future__ import annotations

from extractor.formatting import ExtractionInput
from schemas.esconv import SEEKER, Dialog

WHOLE_DIALOG = -1  # turn index of the whole-dialog extraction request (cumulative mode)
UTTERANCE, CUMULATIVE = "utterance", "cumulative"
CONTEXT_MODES = (UTTERANCE, CUMULATIVE)


def annotated_positions(dialog: Dialog, start_utterance: int) -> list[int]:
    """Positions of the seeker turns that show a persona (from the start utterance on)."""
    return [i for i, t in enumerate(dialog.turns) if t.speaker == SEEKER and i >= start_utterance - 1]


def seeker_positions(dialog: Dialog) -> list[int]:
    return [i for i, t in enumerate(dialog.turns) if t.speaker == SEEKER]


def utterance_input(dialog: Dialog, position: int) -> ExtractionInput:
    """One seeker utterance, with the supporter's last message before it as context."""
    context = next((t.text for t in reversed(dialog.turns[:position]) if t.speaker != SEEKER), "")
    return ExtractionInput((dialog.turns[position].text,), context)


def cumulative_input(dialog: Dialog, position: int) -> ExtractionInput:
    """The paper's input: every seeker utterance up to and including `position`."""
    return ExtractionInput(tuple(dialog.seeker_texts_until(position)))


def extraction_requests(dialog: Dialog, start_utterance: int, context: str) -> list[tuple[ExtractionInput, int]]:
    """(input, turn) requests of one dialog; turn WHOLE_DIALOG is the cumulative whole-dialog request.

    `utterance` (default): every seeker utterance once, so a dialog costs one short request per seeker
    turn; `cumulative` (the paper): one request per annotated turn reading all seeker utterances so far."""
    if context == UTTERANCE:
        return [(utterance_input(dialog, p), p) for p in seeker_positions(dialog)]
    requests = [(cumulative_input(dialog, p), p) for p in annotated_positions(dialog, start_utterance)]
    return requests + [(cumulative_input(dialog, len(dialog.turns) - 1), WHOLE_DIALOG)]
