"""Markdown model-card sections: commands that measure something write their own section of the card."""
from __future__ import annotations


def card_section(card: str, title: str) -> str:
    """The body of a '## title' section of a Markdown card ('' when absent)."""
    _, sep, rest = card.partition(f"## {title}\n")
    if not sep:
        return ""
    nxt = rest.find("\n## ")
    return (rest[:nxt] if nxt >= 0 else rest).strip("\n")


def replace_section(card: str, title: str, body: str) -> str:
    head, sep, rest = card.partition(f"## {title}\n")
    if not sep:
        return card.rstrip("\n") + f"\n\n## {title}\n\n{body}\n"
    nxt = rest.find("\n## ")
    tail = rest[nxt + 1:] if nxt >= 0 else ""
    return head + f"## {title}\n\n{body}\n" + ("\n" + tail if tail else "")
