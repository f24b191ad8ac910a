"""Held-out splits by persona set: PERSONA-CHAT reuses a small pool of persona sentences, so a split
by row puts every held-out gold sentence into the training targets too and measures memorisation.

Pairs whose personas share a sentence (the same after normalising, or a near-duplicate) fall in one
group (connected components); whole groups are held out, so no held-out gold sentence, nor a
near-duplicate of one, is ever a training target.
"""
from __future__ import annotations

import json
import random
from difflib import SequenceMatcher
from pathlib import Path
from typing import Sequence

from common.cli import InputError
from extractor.dedup import normalise
from extractor.grounding import NUMBER_WORDS
from schemas.personachat import PersonaPair

NEAR_DUPLICATE = 0.9  # character similarity at which two persona sentences count as the same fact


def canonical(sentence: str) -> str:
    """Normalised words, number words as digits: "i have two dogs ." == "I have 2 dogs"."""
    return " ".join(NUMBER_WORDS.get(w, w) for w in normalise(sentence).split())


def persona_groups(pairs: Sequence[PersonaPair], near: float = NEAR_DUPLICATE) -> list[int]:
    """A group id per pair: pairs linked by a shared (or near-duplicate) persona sentence share an id."""
    parent = list(range(len(pairs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    owner: dict[str, int] = {}  # normalised sentence -> first pair that has it
    for i, pair in enumerate(pairs):
        for sentence in pair.persona:
            key = canonical(sentence)
            if key in owner:
                union(i, owner[key])
            else:
                owner[key] = i
    keys = sorted(owner)
    for a in range(len(keys)):  # near-duplicates ("i have 2 dogs" / "i have two dogs .")
        for b in range(a + 1, len(keys)):
            m = SequenceMatcher(None, keys[a], keys[b], autojunk=False)
            if m.real_quick_ratio() >= near and m.quick_ratio() >= near and m.ratio() >= near:
                union(owner[keys[a]], owner[keys[b]])
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(len(pairs))]


def split_by_persona(pairs: Sequence[PersonaPair], fraction: float, seed: int,
                     groups: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """(kept, held_out) pair indices; whole persona groups are held out until `fraction` of the pairs is."""
    if not 0 <= fraction < 1:
        raise InputError(f"held-out fraction must be in [0, 1), got {fraction}")
    groups = list(groups) if groups is not None else persona_groups(pairs)
    ids = sorted(set(groups))
    random.Random(seed).shuffle(ids)
    size: dict[int, int] = {}
    for g in groups:
        size[g] = size.get(g, 0) + 1
    target, chosen, taken = fraction * len(pairs), set(), 0
    for g in ids:
        if taken >= target:
            break
        chosen.add(g)
        taken += size[g]
    held = [i for i, g in enumerate(groups) if g in chosen]
    kept = [i for i, g in enumerate(groups) if g not in chosen]
    if fraction > 0 and not kept:
        raise InputError("the held-out split took every persona group: use a smaller fraction or more data")
    return kept, held


def read_split(folder: Path, data: Sequence[str] | str | None = None) -> tuple[list[PersonaPair], dict]:
    """The pairs an adapter folder's `split.json` was made from (or `data`, read in its place) and the split itself,
    its `data` and `n_pairs` as lists; a missing file or sources of another size is a one-line error."""
    from schemas.personachat import read_sources

    split_file = Path(folder) / "split.json"
    if not split_file.exists():
        raise InputError(f"{split_file} not found (is --split-of a train_extractor output folder?)")
    split = json.loads(split_file.read_text())
    data = data or split["data"]
    split["data"] = [data] if isinstance(data, str) else list(data)
    split["n_pairs"] = split["n_pairs"] if isinstance(split["n_pairs"], list) else [split["n_pairs"]]
    pairs, per_source = read_sources(split["data"], split.get("limit"))
    if per_source != split["n_pairs"]:
        raise InputError(f"{', '.join(split['data'])} hold {per_source} pairs but {split_file} was made from "
                         f"{split['n_pairs']}")
    return pairs, split
