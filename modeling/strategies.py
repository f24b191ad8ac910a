"""The 8 strategy special tokens (prefixed to every target) and the per-strategy alpha of Eq. 6."""
from __future__ import annotations

from schemas.strategies import STRATEGIES

STRATEGY_TOKENS: tuple[str, ...] = tuple(f"[{s}]" for s in STRATEGIES)
TOKEN_OF: dict[str, str] = dict(zip(STRATEGIES, STRATEGY_TOKENS))
STRATEGY_OF_TOKEN: dict[str, str] = dict(zip(STRATEGY_TOKENS, STRATEGIES))

# Paper §3.4 / SPEC: strategies that benefit from persona get a positive alpha.
DEFAULT_ALPHA: dict[str, float] = {
    "Question": 0.0,
    "Restatement or Paraphrasing": 0.75,
    "Reflection of feelings": 0.0,
    "Self-disclosure": 0.0,
    "Affirmation and Reassurance": 0.75,
    "Providing Suggestions": 0.75,
    "Information": 0.75,
    "Others": 0.375,
}


def alpha_table(overrides: dict[str, float] | float | None = None) -> dict[str, float]:
    """The alpha of each strategy: the paper's table, a single value for all, or per-strategy overrides."""
    if overrides is None:
        return dict(DEFAULT_ALPHA)
    if isinstance(overrides, (int, float)):
        return {s: float(overrides) for s in STRATEGIES}
    table = dict(DEFAULT_ALPHA)
    for name, value in overrides.items():
        if name not in table:
            raise KeyError(f"unknown strategy {name!r} in the alpha table")
        table[name] = float(value)
    return table


def parse_alpha(text: str | None) -> dict[str, float]:
    """CLI form: '' / 'paper' = the paper's table; '0.5' = one value; 'Question=0.2,Others=0' = overrides."""
    from common.cli import InputError
    from schemas.strategies import canonical_strategy

    if text in (None, "", "paper"):
        return alpha_table()
    try:
        return alpha_table(float(text))
    except ValueError:
        pass
    overrides = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            overrides[canonical_strategy(name)] = float(value)
        except (KeyError, ValueError):
            raise InputError(f"bad --alpha entry {part!r} (expected a number or Strategy=value pairs)") from None
    return alpha_table(overrides)


def add_strategy_tokens(tokenizer) -> list[int]:
    """Add the 8 strategy tokens as special tokens (idempotent); return their ids in STRATEGIES order."""
    missing = [t for t in STRATEGY_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    return tokenizer.convert_tokens_to_ids(list(STRATEGY_TOKENS))
