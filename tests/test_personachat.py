"""PERSONA-CHAT readers: the real CSV, the ParlAI text format, the held-out split, clear errors."""
from __future__ import annotations

import pytest

from schemas.esconv import InputError
from schemas.personachat import iter_csv_rows, read_pairs, split_heldout
from tests.helpers import PERSONACHAT_CSV

PARLAI = """1 your persona: i like to remodel homes.
2 your persona: i have a dog named bob.
3 partner's persona: i am a nurse.
4 __SILENCE__\thi , i just got back from fixing up a house .\t\tcand a|cand b
5 cool , i work nights at the hospital .\tmy dog bob missed me .\t\tcand c
1 your persona: i love pizza.
2 partner's persona: i ride horses.
3 hello !\ti could eat pizza every day .
4 my horse is named star .\tnice name !
"""


def test_reads_the_real_csv():
    pairs = read_pairs(PERSONACHAT_CSV)
    assert len(pairs) == 2000
    first = pairs[0]
    assert first.utterances[0] == "i am good , i just got off work and tired , i have two jobs ."
    assert first.utterances[-1] == "now that i am older home depot is my toy r us ."  # ' </s>' removed
    assert first.persona == ("i read twenty books a year.", "i am a stunt double as my second job.",
                             "i only eat kosher.", "i was raised in a single parent household.")
    assert first.source.endswith("valid.csv:2")


def test_reads_parlai_both_sides(tmp_path):
    path = tmp_path / "valid_both_original.txt"
    path.write_text(PARLAI)
    pairs = read_pairs(path)
    assert [(p.utterances, p.persona) for p in pairs] == [
        (("hi , i just got back from fixing up a house .", "my dog bob missed me ."),
         ("i like to remodel homes.", "i have a dog named bob.")),
        (("cool , i work nights at the hospital .",), ("i am a nurse.",)),  # __SILENCE__ is not an utterance
        (("i could eat pizza every day .", "nice name !"), ("i love pizza.",)),
        (("hello !", "my horse is named star ."), ("i ride horses.",)),
    ]


def test_round_trip_through_csv_form(tmp_path):
    pairs = read_pairs(PERSONACHAT_CSV, limit=5)
    out = tmp_path / "few.csv"
    out.write_text(",context,persona\n" + "".join(f'{i},"{c}","{p}"\n' for i, (c, p) in enumerate(iter_csv_rows(pairs))))
    assert [(p.utterances, p.persona) for p in read_pairs(out)] == [(p.utterances, p.persona) for p in pairs]


@pytest.mark.parametrize("content, message", [
    (",context\n0,hi <sep> there </s>\n", "missing column(s) persona"),
    (",context,persona\n0,hi <sep> there </s>, </s>\n", "few.csv:2: empty 'persona'"),
    (",context,persona\n0,hi </s>,i am a cat. </s>\n1, </s>,i am a dog. </s>\n", "few.csv:3: empty 'context'"),
    (",context,persona\n0,hi </s>,i am a cat. </s>,extra\n", "few.csv:2: too many fields"),
])
def test_malformed_csv_rows_are_named(tmp_path, content, message):
    path = tmp_path / "few.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_pairs(path)


@pytest.mark.parametrize("content, message", [
    ("your persona: i like cats.\n", ":1: expected a line starting with its number"),
    ("2 your persona: i like cats.\n", ":1: dialog does not start with line number 1"),
    ("1 your persona: i like cats.\n2 hi there\n", ":2: utterance line needs 'partner<TAB>own' texts"),
    ("1 your persona: i like cats.\n2 hi\tyo\n3 partner's persona: x.\n", ":3: persona line after the dialog started"),
    ("1 your persona: i like cats.\n2 hi\tyo\n", "has no \"partner persona:\" lines"),
])
def test_malformed_parlai_lines_are_named(tmp_path, content, message):
    path = tmp_path / "x_both_original.txt"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        read_pairs(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_sources_are_rejected(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_pairs(tmp_path / "missing.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputError, match="unknown PERSONA-CHAT format"):
        read_pairs(tmp_path / "x.json")


def test_heldout_split_is_seeded_and_disjoint():
    kept, held = split_heldout(2000, 0.1, seed=13)
    assert len(held) == 200 and len(kept) == 1800 and not set(kept) & set(held)
    assert split_heldout(2000, 0.1, seed=13) == (kept, held)
    assert split_heldout(2000, 0.1, seed=14)[1] != held
    with pytest.raises(InputError):
        split_heldout(10, 1.0, seed=1)
