"""One frozen object for every setting the build's transforms read, so a setting has one name everywhere.

The build makes it from its command line (`from_args`); the evaluation makes the same object from its own
options so that it runs the build's check with the build's settings; tests make it with keywords.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from extractor.requests import UTTERANCE
from extractor.verifier import CheckSettings, check_settings


@dataclass(frozen=True)
class BuildSettings:
    # which records to read and how to split them (pipelines.splits)
    max_dialogs: int | None = None
    scheme: str = "standard"
    ratio: str = "7:2:1"
    seed: int = 13
    # what is asked of the extractor
    start_utterance: int = 3  # first utterance (1-based) from which seeker turns show a persona
    context: str = UTTERANCE  # "utterance" or the paper's "cumulative"
    skip_statementless: bool = True  # inputs with no statement the check could keep skip the model
    # the check (extractor.verifier for style "fact", extractor.grounding for style "quote")
    style: str = "fact"
    judges: str | None = None  # folder of the verifier and fact classifier (None: the shipped ones)
    check: CheckSettings = field(default_factory=CheckSettings)
    drop_remarks: bool = True  # quote style: remarks to the supporter are dropped
    quote: bool = True  # quote style: the seeker's statement in place of a paraphrase
    device: str = "cpu"  # where the check's encoders run
    # how a dialog's persona is folded
    merge_threshold: float = 0.85
    referents: bool = True  # fact style: a pronoun becomes the person it means when the ranker is sure
    keep_unsupported: bool = False
    progress_every: float = 10.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "BuildSettings":
        """From the build's options (or any namespace with some of them: missing ones keep their defaults)."""
        d = cls()
        get = lambda name, default: getattr(args, name, default)  # noqa: E731
        keep_unsupported = get("keep_unsupported", d.keep_unsupported)
        return cls(max_dialogs=get("max_dialogs", d.max_dialogs), scheme=get("split", d.scheme),
                   ratio=get("ratio", d.ratio), seed=get("seed", d.seed),
                   start_utterance=get("start_utterance", d.start_utterance), context=get("context", d.context),
                   skip_statementless=not keep_unsupported, style=get("persona_style", d.style),
                   judges=get("judges", d.judges), check=check_settings(args) if hasattr(args, "fallback") else d.check,
                   drop_remarks=not get("keep_remarks", False), quote=not get("keep_paraphrases", False),
                   device=str(get("device", d.device)),
                   merge_threshold=get("merge_threshold", d.merge_threshold), keep_unsupported=keep_unsupported,
                   referents=not get("keep_pronouns", not d.referents),
                   progress_every=get("progress_every", d.progress_every))

    def replace(self, **changes) -> "BuildSettings":
        return dataclasses.replace(self, **changes)


DEFAULT_SETTINGS = BuildSettings()
