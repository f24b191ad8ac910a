"""The 8 canonical ESConv support strategies and the explicit alias table for messy labels."""
from __future__ import annotations

STRATEGIES: tuple[str, ...] = (
    "Question",
    "Restatement or Paraphrasing",
    "Reflection of feelings",
    "Self-disclosure",
    "Affirmation and Reassurance",
    "Providing Suggestions",
    "Information",
    "Others",
)

# Every accepted spelling, lower-cased, mapped to its canonical label. Anything not in
# this table is rejected: guessing a label would silently corrupt strategy statistics.
STRATEGY_ALIASES: dict[str, str] = {
    **{s.lower(): s for s in STRATEGIES},
    **{f"[{s.lower()}]": s for s in STRATEGIES},
    "questions": "Question",
    "restatement": "Restatement or Paraphrasing",
    "paraphrasing": "Restatement or Paraphrasing",
    "reflection of feeling": "Reflection of feelings",
    "self disclosure": "Self-disclosure",
    "affirmation and reassurances": "Affirmation and Reassurance",
    "approval and reassurance": "Affirmation and Reassurance",
    "providing suggestion": "Providing Suggestions",
    "direct guidance": "Providing Suggestions",
    "other": "Others",
}


def canonical_strategy(label: str) -> str:
    """Map a raw strategy label to its canonical form; KeyError names the unknown label."""
    key = " ".join(label.strip().lower().split())
    if key not in STRATEGY_ALIASES:
        raise KeyError(f"unknown strategy label {label!r}")
    return STRATEGY_ALIASES[key]
