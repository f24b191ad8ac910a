"""PERSONA-CHAT readers: the real CSV, the ParlAI text format, the held-out split, clear errors."""
from __future__ import annotations

import csv
import logging

import pytest

from common.cli import InputError
from schemas.personachat import iter_csv_rows, read_pairs, skipped_rows
from tests.helpers import PERSONACHAT_CSV, SYNTHETIC_CSV

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
    (",context\n0,hi <sep> there </s>\n", "unknown CSV form"),
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


def test_reads_synthetic_persona_chat_with_partner_context():
    pairs = read_pairs(SYNTHETIC_CSV)
    assert len(pairs) == 2000  # 1,000 conversations, two speaker sides each
    first, second = pairs[0], pairs[1]
    assert first.persona == ("I love to bake cookies.", "I have a dogs.",
                             "The county wide bake sale is where i feel most at home.", "Knitting is my passion.")
    assert first.utterances[:2] == ("Hi!", "What is your favorite thing to do?")
    assert first.partner[:2] == ("", "Hello!")  # the partner's message before each utterance
    assert second.utterances[0] == "Hello!" and second.partner[0] == "Hi!"
    assert len(first.partner) == len(first.utterances) and first.source.endswith("valid.csv:2 (user 1)")
    # markdown-styled turns ("*User 1:* ...") are read too
    assert all(p.utterances for p in pairs) and not any(u.startswith(("*", "User")) for p in pairs for u in p.utterances)
    assert skipped_rows[str(SYNTHETIC_CSV)] == []  # every conversation has clear speakers


@pytest.mark.parametrize("content, message", [
    ("user 1 personas,user 2 personas,Best Generated Conversation\n\"I am a cat.\",,\"User 1: hi\nUser 2: yo\"\n",
     "syn.csv:2: empty 'user 2 personas'"),
    ("user 1 personas,user 2 personas,Best Generated Conversation\na.,b.,\"User 1: hi\"\n",
     "syn.csv:2: User 2 says nothing"),
    ("a,b\n1,2\n", "unknown CSV form"),
])
def test_malformed_synthetic_rows_are_named(tmp_path, content, message):
    path = tmp_path / "syn.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_pairs(path)


def test_parlai_sides_know_what_the_partner_said_before(tmp_path):
    path = tmp_path / "valid_both_original.txt"
    path.write_text(PARLAI)
    pairs = read_pairs(path)
    assert pairs[0].partner == ("", "cool , i work nights at the hospital .")
    assert pairs[1].partner == ("hi , i just got back from fixing up a house .",)


def _write_synthetic(path, conversations):
    """A Synthetic-Persona-Chat CSV with one row per (user 1 personas, user 2 personas, conversation)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user 1 personas", "user 2 personas", "Best Generated Conversation"])
        writer.writerows(conversations)
    return path


def test_unmarked_synthetic_turns_alternate(tmp_path):
    conversation = ("Hi! I'm [user 1 name]. I love to bake.\nDo you bake?\n\n"
                    "Hello! Not really, I ride horses.\n\n* * *\n\nHorses are great!\n\n")
    path = _write_synthetic(tmp_path / "syn.csv", [("I love to bake.\nI have a dog.", "I ride horses.", conversation)])
    first, second = read_pairs(path)
    assert first.utterances == ("Hi! I'm [user 1 name]. I love to bake. Do you bake?", "Horses are great!")
    assert first.partner == ("", "Hello! Not really, I ride horses.")
    assert first.persona == ("I love to bake.", "I have a dog.")
    assert second.utterances == ("Hello! Not really, I ride horses.",)
    assert second.partner == ("Hi! I'm [user 1 name]. I love to bake. Do you bake?",)
    assert second.persona == ("I ride horses.",) and second.source.endswith("syn.csv:2 (user 2)")
    assert skipped_rows[str(path)] == []


def test_ambiguous_synthetic_conversations_are_skipped_and_reported(tmp_path, caplog):
    path = _write_synthetic(tmp_path / "syn.csv", [
        ("a.", "b.", "* User 1: hi *\n* User 2: yo *"),
        ("c.", "d.", "hello there\nhow are you?"),  # one block: who said it?
        ("e.", "f.", ""),
        ("g.", "h.", "hi\n\nso User 2: said yo"),  # a marker inside a block
        ("i.", "j.", "hey\n\nhi"),
    ])
    with caplog.at_level(logging.WARNING, logger="schemas.personachat"):
        pairs = read_pairs(path)
    assert [(p.utterances, p.persona) for p in pairs] == [
        (("hi",), ("a.",)), (("yo",), ("b.",)), (("hey",), ("i.",)), (("hi",), ("j.",))]
    assert skipped_rows[str(path)] == [3, 4, 5]
    assert f"{path}: 3 conversation(s)" in caplog.text and "(rows 3, 4, 5)" in caplog.text
    only_ambiguous = _write_synthetic(tmp_path / "none.csv", [("a.", "b.", "hello there")])
    with pytest.raises(InputError, match="no .utterances, persona. pairs found"):
        read_pairs(only_ambiguous)
