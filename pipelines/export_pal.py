"""A build in PAL's `PESConv.json` layout, so that the authors' code reads it unchanged.

    python -m pipelines.export_pal --build outputs/pesconv --output outputs/pesconv/PESConv.json

PAL's `codes/_reformat/process.py --add_persona True` reads a JSON array of ESConv records (`emotion_type`,
`problem_type`, `situation`, `dialog` turns with `speaker` "seeker"/"supporter", `content`, and a supporter's
`annotation.strategy`) plus two persona fields; its inputter reads a persona string as `<input>` followed by each
persona sentence after a `<persona>` marker (`<input>` alone when nothing is known yet):
- `persona`: the whole-dialog persona;
- `persona_list`: one string per seeker utterance from the third on (PAL looks up entry `k - 3` at a supporter
  response after `k` seeker utterances): the persona visible at that seeker turn.
Every split of the build is written, in the build's order (PAL's script draws its own split); `split` and
`dialog_id` are kept as extra fields, which the script ignores.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.cli import InputError, command_parser, quiet_libraries, run_cli

FIRST_PERSONA_UTTERANCE = 3  # PAL's persona_list starts at the third seeker utterance


def pal_persona(sentences: list[str]) -> str:
    """PAL's persona string: `<input>` then `<persona>` before each sentence."""
    return "<input>" + "".join(f"<persona>{' '.join(s.split())}" for s in sentences)


def pal_record(row: dict[str, Any]) -> dict[str, Any]:
    """One PESConv row as an ESConv record with PAL's persona fields."""
    dialog, persona_list, seen = [], [], 0
    for turn in row["dialog"]:
        if turn["speaker"] == "seeker":
            dialog.append({"speaker": "seeker", "annotation": {}, "content": turn["text"]})
            seen += 1
            if seen >= FIRST_PERSONA_UTTERANCE:
                persona_list.append(pal_persona(list(turn["persona"])))
        else:
            dialog.append({"speaker": "supporter", "annotation": {"strategy": turn["strategy"] or "Others"},
                           "content": turn["text"]})
    return {"experience_type": row["experience_type"], "emotion_type": row["emotion_type"],
            "problem_type": row["problem_type"], "situation": row["situation"],
            "survey_score": row["survey_score"], "dialog": dialog, "persona": pal_persona(list(row["persona"])),
            "persona_list": persona_list, "dialog_id": row["dialog_id"], "split": row["split"]}


def export(build: Path, output: Path) -> int:
    """Write `output` from the build's shards; returns the number of dialogs."""
    import pyarrow.parquet as pq

    shards = sorted((build / "data").glob("*.parquet"))
    if not shards:
        raise InputError(f"{build} has no data/*.parquet shards (is it a pesconv-build output folder?)")
    rows = [r for path in shards for r in pq.read_table(path).to_pylist()]
    order = {"train": 0, "valid": 1, "test": 2}
    def position(r: dict) -> tuple:
        name, _, index = r["source"].rpartition("#")
        return order.get(r["split"], 3), name, int(index) if index.isdigit() else 0

    rows.sort(key=position)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".partial")
    tmp.write_text(json.dumps([pal_record(r) for r in rows], ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(output)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m pipelines.export_pal", __doc__)
    p.add_argument("--build", default="outputs/pesconv", help="a pesconv-build output folder")
    p.add_argument("--output", help="the JSON file to write (default BUILD/PESConv.json)")
    args = p.parse_args(argv)
    build = Path(args.build)
    output = Path(args.output) if args.output else build / "PESConv.json"
    n = export(build, output)
    print(f"wrote {n} dialogs in PAL's PESConv.json layout to {output}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
