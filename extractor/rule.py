"""The rule baseline as a built-in extractor: copy the person's first-person statements, no model.

`--extractor rule` in the build. It is a *baseline* (what persona extraction must beat, and a way to
measure the pipeline itself without a model), not a persona extractor: it copies every statement
about the speaker, feelings and plans included, word for word.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from extractor.base import PersonaExtractor
from extractor.formatting import InputLike, as_input
from extractor.grounding import self_statements

RULE_NAME = "rule"
RULE_LABEL = "rule baseline: copy first-person statements (extractor.rule)"


def rule_baseline(utterances: Sequence[str]) -> list[str]:
    """Copy the first-person statements of the input, one sentence each, de-duplicated (case-insensitive)."""
    out: list[str] = []
    seen: set[str] = set()
    for utt in utterances:
        for s in self_statements(utt):
            if s.lower() not in seen:
                seen.add(s.lower())
                out.append(s)
    return out


@dataclass
class RuleExtractor(PersonaExtractor):
    """`rule_baseline` behind the extractor interface (model and tokenizer are None)."""

    backend: str = "rule"

    def extract(self, inputs: Sequence[InputLike]) -> list[list[str]]:
        return [rule_baseline(as_input(i).utterances) for i in inputs]
