"""What Figures 3 and 5 plot against: the seeker's survey scores, one panel each, and the conditions compared."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

CONDITIONS = ("persona", "control", "echo", "echo_last")
CONDITION_LABELS = {"persona": "this seeker's persona", "control": "control: persona of a random other seeker",
                    "echo": "echo control: the seeker's own utterances so far",
                    "echo_last": "echo control: the seeker's last utterance"}


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    x_label: str
    score: Callable[[dict], int | None]
    scale: tuple[int, int] | None = None  # full rating scale shown on the x axis


def survey(row: dict) -> dict:
    return row.get("survey_score") or {}


def intensity_decrease(row: dict) -> int | None:
    """initial - final emotion intensity (> 0: the seeker felt better); None when either is missing."""
    s = survey(row)
    a, b = s.get("initial_emotion_intensity"), s.get("final_emotion_intensity")
    return None if a is None or b is None else int(a) - int(b)


PANELS = (
    Panel("empathy", "Empathy",
          "Seeker's rating: did the supporter empathise?\n(1 = not at all ... 5 = very much)",
          lambda r: survey(r).get("empathy"), (1, 5)),
    Panel("relevance", "Relevance",
          "Seeker's rating: were the responses on topic?\n(1 = not at all ... 5 = very much)",
          lambda r: survey(r).get("relevance"), (1, 5)),
    Panel("intensity_decrease", "Emotional relief",
          "Drop in the seeker's emotional intensity, start - end\n(each rated 1-5; > 0 = felt better)",
          intensity_decrease),
)
