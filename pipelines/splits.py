"""Split schemes: `standard` (the split files as given), `pal` (PAL's 910/260/130) and `ratio` (seeded).

Assignments depend on a record's position among all records read, so they are computed once on
the driver, before the parallel part of the build, and travel with each record.
"""
from __future__ import annotations

import numpy as np

from common.cli import InputError
from schemas.esconv import RawRecord, split_of_file

SCHEMES = ("standard", "pal", "ratio")
SPLITS = ("train", "valid", "test")


def parse_ratio(text: str) -> tuple[float, float, float]:
    """'7:2:1' -> normalised (train, valid, test) shares."""
    try:
        parts = [float(x) for x in text.split(":")]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise InputError(f"--ratio must look like 7:2:1 (train:valid:test), got {text!r}")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def assign_splits(records: list[RawRecord], scheme: str, ratio: str = "7:2:1", seed: int = 13) -> list[str]:
    """The split of each record (same order as `records`)."""
    n = len(records)
    if scheme == "standard":  # the file a record came from; files without a split name are "train"
        return [split_of_file(r.source) or "train" for r in records]
    if scheme == "pal":
        # PAL: concatenate valid + test + train (= ESConv.json shuffled with seed 13), then
        # valid = [0:a] + [2a:3a], test = [a:2a], train = [3a:], with a = n/10 (130 of 1,300).
        rank = {"valid": 0, "test": 1, "train": 2}
        order = sorted(range(n), key=lambda i: (rank.get(split_of_file(records[i].source) or "train", 3), i))
        a = round(n / 10)
        out = [""] * n
        for pos, i in enumerate(order):
            out[i] = "valid" if pos < a or 2 * a <= pos < 3 * a else "test" if pos < 2 * a else "train"
        return out
    if scheme == "ratio":
        shares = parse_ratio(ratio)
        perm = np.random.RandomState(seed).permutation(n)
        n_train, n_valid = round(n * shares[0]), round(n * shares[1])
        out = [""] * n
        for pos, i in enumerate(perm):
            out[int(i)] = "train" if pos < n_train else "valid" if pos < n_train + n_valid else "test"
        return out
    raise InputError(f"unknown --split {scheme!r} (choose {', '.join(SCHEMES)})")
