"""Text formats shared by training and inference, so the two can never drift apart."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, Union

SEP_TOKEN = "<sep>"
PERSONA_TOKEN = "<persona>"
SPECIAL_TOKENS = [SEP_TOKEN, PERSONA_TOKEN]
# Bump when the prompt or the output format changes: it is part of the inference-cache key.
# v3: one utterance per request with the partner's previous message as context; grounded targets.
PROMPT_VERSION = "v3"
CONTEXT_CHARS = 300  # the partner's message is cut to its last CONTEXT_CHARS characters


@dataclass(frozen=True)
class ExtractionInput:
    """What one extraction request reads: the person's words, and the partner's message before them.

    Per-utterance extraction (the default) has one utterance and the partner's last message as
    `context`; the paper's cumulative mode has all of the person's utterances so far and no context.
    Facts may only come from `utterances`; `context` only helps to read them ("35." after "how old are you?").
    """

    utterances: tuple[str, ...]
    context: str = ""

    def size(self) -> int:
        """Characters the model reads: a cheap length for batching similar inputs together."""
        return sum(len(u) for u in self.utterances) + len(self.context)


InputLike = Union[ExtractionInput, Sequence[str]]


def as_input(value: InputLike) -> ExtractionInput:
    """Accept a bare list of utterances where an `ExtractionInput` is expected."""
    if isinstance(value, ExtractionInput):
        return value
    return ExtractionInput(tuple(str(u) for u in value))


SYSTEM_PROMPT = (
    "Read what the person said (lines starting 'Person:'). List the facts they state about themselves, "
    "each rewritten as a short first-person sentence ('I ...' or 'My ...'), one per line. Use only the "
    "person's own words: a 'Partner:' line is context, never a source of facts. Add nothing they did not "
    "say. If they state nothing about themselves, answer NONE."
)
# Two worked examples, so the untuned instruct model copies the format (one answer with facts, one NONE).
EXAMPLES = [
    (ExtractionInput(("i just got home from my shift at the hospital . my two dogs are waiting for me .",),
                     "what did you do today ?"),
     ["I work at a hospital.", "I have two dogs."]),
    (ExtractionInput(("oh nice , do you like it ?",), "i am a teacher ."), []),
]


def join_utterances(utterances: Sequence[str]) -> str:
    """Utterances in the PERSONA-CHAT seq2seq input form (the paper's format; no context)."""
    return f" {SEP_TOKEN} ".join(u.strip() for u in utterances)


def join_persona(sentences: Sequence[str]) -> str:
    """Persona sentences in the PERSONA-CHAT seq2seq target form; NONE when nothing is stated."""
    return f" {PERSONA_TOKEN} ".join(s.strip() for s in sentences) if sentences else "NONE"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe_input(inp: ExtractionInput) -> str:
    """The request as the causal model reads it: 'Partner: ...' then one 'Person: ...' line per utterance."""
    lines = []
    if inp.context.strip():
        context = _one_line(inp.context)
        if len(context) > CONTEXT_CHARS:
            context = "..." + context[-CONTEXT_CHARS:]
        lines.append(f"Partner: {context}")
    lines += [f"Person: {_one_line(u)}" for u in inp.utterances]
    return "\n".join(lines)


def causal_messages(inp: InputLike) -> list[dict[str, str]]:
    """Chat messages for decoder-only extractors (the same prompt for tuned and untuned models)."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for example, answer in EXAMPLES:
        messages += [{"role": "user", "content": describe_input(example)},
                     {"role": "assistant", "content": causal_target(answer)}]
    messages.append({"role": "user", "content": describe_input(as_input(inp))})
    return messages


def causal_target(sentences: Sequence[str]) -> str:
    """What a decoder-only extractor is trained to answer: one persona sentence per line, or NONE."""
    return "\n".join(s.strip() for s in sentences) if sentences else "NONE"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_STRIP_TOKENS = re.compile(r"</s>|<s>|<pad>|<\|im_end\|>|<\|endoftext\|>|<\|im_start\|>\w*")
_ROLE_LINE = re.compile(r"^\s*(?:person|partner)\s*:", re.IGNORECASE)


def parse_persona(text: str) -> list[str]:
    """Split generated text into clean persona sentences (handles `<persona>`, lines and bullets)."""
    text = _STRIP_TOKENS.sub("\n", text)
    out: list[str] = []
    for piece in re.split(r"<persona>|\n", text):
        if _ROLE_LINE.match(piece):  # the model echoing the input format is not an answer
            continue
        piece = _BULLET.sub("", piece).strip()
        for sentence in _SENTENCE_END.split(piece):
            s = sentence.strip().strip('"').strip()
            if len(s) < 3 or s.upper().rstrip(".") == "NONE" or s.endswith(":"):
                continue
            out.append(s)
    return out
