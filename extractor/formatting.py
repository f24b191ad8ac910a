"""Text formats shared by training and inference, so the two can never drift apart."""
from __future__ import annotations

import re

SEP_TOKEN = "<sep>"
PERSONA_TOKEN = "<persona>"
SPECIAL_TOKENS = [SEP_TOKEN, PERSONA_TOKEN]
# Bump when the prompt or the output format changes: it is part of the inference-cache key.
PROMPT_VERSION = "v2"  # v2: answers end at any chat marker; verbatim repeats dropped

SYSTEM_PROMPT = (
    "List the facts a person states about themselves, rewritten as short sentences in the first "
    "person ('I ...' or 'My ...'), one per line. Use only what the person said. "
    "If they said nothing about themselves, answer NONE."
)
# One worked example, so the untuned instruct model copies the format instead of describing the person.
EXAMPLE_UTTERANCES = ["hi , how are you ?", "i just got home from my shift at the hospital .",
                      "my two dogs are waiting for me , so i am happy ."]
EXAMPLE_PERSONA = ["I work at a hospital.", "I have two dogs."]


def join_utterances(utterances: list[str]) -> str:
    """Seeker utterances in the PERSONA-CHAT extractor input form."""
    return f" {SEP_TOKEN} ".join(u.strip() for u in utterances)


def join_persona(sentences: list[str]) -> str:
    """Persona sentences in the PERSONA-CHAT extractor target form (seq2seq)."""
    return f" {PERSONA_TOKEN} ".join(s.strip() for s in sentences)


def causal_messages(utterances: list[str]) -> list[dict[str, str]]:
    """Chat messages for decoder-only extractors (the same prompt for tuned and untuned models)."""
    def ask(utts: list[str]) -> str:
        return "What the person said:\n" + "\n".join(f"- {u.strip()}" for u in utts)

    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": ask(EXAMPLE_UTTERANCES)},
        {"role": "assistant", "content": causal_target(EXAMPLE_PERSONA)},
        {"role": "user", "content": ask(utterances)},
    ]


def causal_target(sentences: list[str]) -> str:
    """What a decoder-only extractor is trained to answer: one persona sentence per line."""
    return "\n".join(s.strip() for s in sentences) if sentences else "NONE"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_STRIP_TOKENS = re.compile(r"</s>|<s>|<pad>|<\|im_end\|>|<\|endoftext\|>|<\|im_start\|>\w*")


def parse_persona(text: str) -> list[str]:
    """Split generated text into clean persona sentences (handles `<persona>`, lines and bullets)."""
    text = _STRIP_TOKENS.sub("\n", text)
    out: list[str] = []
    for piece in re.split(r"<persona>|\n", text):
        piece = _BULLET.sub("", piece).strip()
        for sentence in _SENTENCE_END.split(piece):
            s = sentence.strip().strip('"').strip()
            if len(s) < 3 or s.upper().rstrip(".") == "NONE" or s.endswith(":"):
                continue
            out.append(s)
    return out
