"""The PESConv dataset card, generated from a finished build's manifest (never hand-written).

`build_card` returns a `huggingface_hub.DatasetCard`: YAML metadata (licence, language, tasks,
tags, size category, `configs` mapping the train/valid/test shards, `dataset_info` with the
features of `schemas.pesconv.pesconv_features()` and the split sizes) plus a Markdown body that
describes every field, how the data was built, the analysis figures, limitations, the ethics note
and the citations. `validate_card` checks a card offline with `huggingface_hub` and `datasets`'
own metadata parsers; the Hub's online YAML check (`DatasetCard.validate`) runs before a real upload.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.cli import InputError
from schemas.pesconv import PERSONA_JOINER, PESCONV_SCHEMA

SPLITS_ORDER = ("train", "valid", "test")
LICENSE = "cc-by-nc-4.0"
PAPER_EXTRACTOR = "facebook/bart-large-cnn"
PAPER_GENERATION = {"num_beams": 10, "max_new_tokens": 128, "max_input_tokens": 512}
TAGS = ["emotional-support", "emotional-support-conversation", "persona", "dialogue", "esconv", "pesconv", "pal",
        "mental-health", "synthetic-annotations"]

CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "dataset_card.md"  # the prose; filled by card_body

# One description per field of PESCONV_SCHEMA (nested fields as "parent.child"); a schema field
# without a description stops the card generation, so the card cannot silently fall behind the schema.
FIELD_DESCRIPTIONS: dict[str, str] = {
    "dialog_id": "Stable id: a content hash of the conversation (`esconv-` + 16 hex digits), the same "
                 "from either ESConv format; unique across splits (duplicates are rejected).",
    "split": "The split this dialog belongs to: `train`, `valid` or `test`.",
    "source": "Where the dialog came from: input file and record index, e.g. `train.json#12`.",
    "experience_type": "ESConv experience type (e.g. `Previous Experience`, `Current Experience`).",
    "emotion_type": "The seeker's emotion as annotated in ESConv (e.g. `anxiety`, `depression`, `sadness`).",
    "problem_type": "The seeker's problem category from ESConv (e.g. `job crisis`, `ongoing depression`).",
    "situation": "The seeker's free-text description of their situation, written before the chat.",
    "survey_score": "Post-chat survey scores from ESConv (integers, null where the source has none).",
    "survey_score.empathy": "Seeker's rating of the supporter's empathy (1-5).",
    "survey_score.relevance": "Seeker's rating of the relevance of the supporter's responses (1-5).",
    "survey_score.initial_emotion_intensity": "Seeker's emotion intensity before the chat (1-5).",
    "survey_score.final_emotion_intensity": "Seeker's emotion intensity after the chat (1-5).",
    "survey_score.supporter_relevance": "Relevance score from the supporter's own survey (ESConv "
                                     "`survey_score.supporter.relevance`), where present.",
    "dialog": "The turns of the conversation in order; consecutive turns of one speaker stay separate.",
    "dialog.speaker": "`seeker` (help seeker) or `supporter` (trained supporter).",
    "dialog.text": "The utterance text (whitespace-normalised).",
    "dialog.strategy": "Support strategy of a supporter turn, one of the 8 canonical ESConv labels "
                       "(Question, Restatement or Paraphrasing, Reflection of feelings, Self-disclosure, "
                       "Affirmation and Reassurance, Providing Suggestions, Information, Others); null on "
                       "seeker turns.",
    "dialog.feedback": "The seeker's per-turn feedback score where the source has it, else null.",
    "dialog.persona": "Inferred seeker persona sentences visible at this turn: what the seeker's utterances up "
                      "to this turn stated (near-duplicates removed, sentences without support in the seeker's "
                      "words dropped). Empty before the first annotated turn.",
    "dialog.persona_evidence": "Evidence for `dialog.persona`: for each sentence, the index in `dialog` of the "
                               "seeker turn that stated it (always a seeker turn at or before this one).",
    "dialog.persona_span": "For each sentence of `dialog.persona`: the [start, end) character offsets of the text of "
                           "its evidence turn that it rests on ([-1, -1] where the build recorded none).",
    "dialog.persona_standalone": "For each sentence of `dialog.persona`: the probability that it reads as a fact "
                                 "without the dialog (a learned score; `persona_standalone` below).",
    "dialog.persona_inferred": "True on the annotated seeker turns (from the start utterance on), where a persona "
                               "is shown; the extractor reads every seeker utterance.",
    "persona": "Whole-dialog persona of the seeker: first-person sentences stated in the seeker's turns.",
    "persona_evidence": "Evidence for `persona`: for each sentence, the index in `dialog` of the seeker turn "
                        "that stated it.",
    "persona_span": "For each sentence of `persona`: the [start, end) characters of its evidence turn's text that "
                    "support it ([-1, -1] where the build recorded none).",
    "persona_standalone": "For each sentence of `persona`: the probability that it reads as a fact without the "
                          "dialog, rather than needing the supporter's question or a person named before (\"He was "
                          "my life.\"); a logistic regression on the sentence's MiniLM embedding, trained on blind "
                          "labels of kept sentences. Keep `>= 0.5` (or `>= 0.7`) for facts that stand alone: on "
                          "held-out dialogs 80 % (86 %) of those read alone, against 64 % of all.",
    "persona_list": "PAL's layout: one string per annotated seeker turn holding the cumulative persona "
                    f"sentences joined by `{PERSONA_JOINER.strip()}`, so PAL's training code reads it unchanged.",
}


def schema_field_paths(schema: pa.Schema = PESCONV_SCHEMA) -> list[tuple[str, str]]:
    """(dotted path, readable type) for every field, nested struct / list-of-struct fields included."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, typ: pa.DataType, name: str) -> None:
        path = f"{prefix}{name}"
        inner = typ.value_type if pa.types.is_list(typ) else typ
        if pa.types.is_struct(inner):
            out.append((path, "list of struct" if pa.types.is_list(typ) else "struct"))
            for child in inner:
                walk(path + ".", child.type, child.name)
        else:
            out.append((path, f"list of {inner}" if pa.types.is_list(typ) else str(typ)))

    for f in schema:
        walk("", f.type, f.name)
    return out


def size_category(n: int) -> str:
    """The Hub's `size_categories` bucket for `n` rows."""
    labels = ["n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B",
              "1B<n<10B", "10B<n<100B", "100B<n<1T"]
    for i, label in enumerate(labels):
        if n < 1000 * 10 ** i:
            return label
    return "n>1T"


def ordered_splits(splits: dict[str, Any]) -> list[str]:
    return [s for s in SPLITS_ORDER if s in splits] + sorted(s for s in splits if s not in SPLITS_ORDER)


def split_stats(folder: Path, manifest: dict) -> dict[str, dict[str, int]]:
    """num_examples / num_bytes (Arrow, as `datasets` records it) / download bytes per split."""
    import pyarrow.parquet as pq

    stats: dict[str, dict[str, int]] = {}
    for rel, shard in sorted(manifest["shards"].items()):
        s = stats.setdefault(shard["split"], {"num_examples": 0, "num_bytes": 0, "download_size": 0})
        path = folder / rel
        s["num_examples"] += int(shard["rows"])
        s["num_bytes"] += pq.read_table(path).nbytes
        s["download_size"] += path.stat().st_size
    return stats


def card_data(manifest: dict, stats: dict[str, dict[str, int]]) -> Any:
    """YAML metadata as `DatasetCardData`: configs per split and dataset_info from `datasets` itself."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    from schemas.pesconv import pesconv_features

    splits = ordered_splits(stats)
    total = sum(s["num_examples"] for s in stats.values())
    data = DatasetCardData(
        pretty_name="PESConv: Persona-augmented Emotional Support Conversations",
        license=LICENSE,
        language=["en"],
        language_creators=["crowdsourced"],
        annotations_creators=["crowdsourced", "machine-generated"],
        multilinguality=["monolingual"],
        size_categories=[size_category(total)],
        source_datasets=["extended|esconv"],
        task_categories=["text-generation"],
        task_ids=["dialogue-modeling", "dialogue-generation"],
        tags=list(TAGS),
    )
    MetadataConfigs({"default": {"data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in splits]}}
                    ).to_dataset_card_data(data)
    split_dict = SplitDict(dataset_name="pesconv")
    for s in splits:
        split_dict.add(SplitInfo(name=s, num_bytes=stats[s]["num_bytes"], num_examples=stats[s]["num_examples"]))
    info = DatasetInfo(features=pesconv_features(), splits=split_dict,
                       download_size=sum(s["download_size"] for s in stats.values()),
                       dataset_size=sum(s["num_bytes"] for s in stats.values()))
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return data


def _md_value(v: Any) -> str:
    if v is None:
        return "–"
    text = json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else str(v)
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def limitations(manifest: dict) -> list[str]:
    """Known limitations of this build, stated from its manifest (persona errors, model substitutions)."""
    ex = manifest.get("extractor", {})
    gen = ex.get("generation", {})
    model = str(ex.get("model", "unknown"))
    fact_style = manifest.get("settings", {}).get("persona_style", "quote") == "fact"
    items = [
        "**Persona errors.** Every persona sentence is proposed by a model from the seeker's utterances and kept "
        "only if a learned verifier (a small cross-encoder) judges that the seeker's turn states or clearly implies "
        "it, a proposal in other words than the seeker's also passes a learned rewrite judge, and a learned classifier "
        "judges it a fact about the seeker; where no kept proposal restates a seeker's first-person clause, the clause "
        "is kept if the classifier accepts it. The judges err: their "
        "precision and recall on hand-labelled data they never saw are in the judges' model card "
        "(`extractor/judges/model_card.md` in the code repository), and a blind audit of kept sentences is in the "
        "code repository's docs. Each sentence records its evidence turn (`persona_evidence`) and the span of that "
        "turn it rests on (`persona_span`): audit a fact against its evidence before relying on it."
        + (f" In {named} sentences a pronoun of the seeker's (\"he\", \"her\") was replaced by the person the "
           "dialog named before (\"my husband\"), chosen by a learned ranker where it was sure; each is listed in "
           "`rewritten.jsonl` with the turn that named the person, and some name the wrong person."
           if (named := manifest.get("grounding", {}).get("pronouns_named")) else "")
        if fact_style else
        "**Persona errors.** Every persona sentence is generated by a model from the seeker's utterances and "
        "kept only if an automatic grounding check finds support for it in the seeker's words (sentence-encoder "
        "similarity and content-word overlap with one seeker turn, recorded in `persona_evidence`). The check "
        "can pass a sentence that adds a detail the seeker did not say or changes its meaning in a way a word-by-word "
        "alignment does not show (the meaning check catches dropped or added negations, someone else's statement "
        "made the seeker's, past states made present, flipped amounts, wishes or plans stated as facts and one third "
        "person put for another, and also drops some faithful sentences: 17 of 99 audited drops), the remark filter drops some facts wrapped in a "
        "remark (7 of 40 audited drops) and misses about half of the remarks to the supporter, and sentences can be "
        "over-generalised or duplicated in other words. Only a sample was checked by people: of 100 persona "
        "sentences of the full default build (seeded), read beside their evidence turns, 4 say something the seeker "
        "did not say and 4 are not facts about the seeker (`research/labels/persona_audit.tsv` in the code repository). "
        "Treat them as silver annotations and audit a fact against its evidence turn before relying on it.",
        "**Role-played seekers.** ESConv seekers are crowd workers describing (possibly fictional) "
        "situations; a persona describes what a seeker said in a chat, not a real person.",
    ]
    if fact_style:
        implied = manifest.get("settings", {}).get("check", {}).get("implied_judge")
        items.append(
            "**Facts that need their dialog" + ("" if implied else ", and facts left out") + ".** In a blind audit of "
            "the default full build, about a third of the sentences needed the dialog to be read: a pronoun or an "
            "\"it\" whose referent an earlier turn names, or an answer to the supporter's question "
            "(`persona_evidence` points to the turn); `persona_standalone` scores how likely each sentence reads "
            "alone."
            + ("" if implied else " The check keeps the seeker's words and close rewrites of them: an implied fact in "
               "other words (\"I lost my job.\" from \"I got laid off\") is dropped, and the seeker's clause is kept "
               "instead."))
    if PAPER_EXTRACTOR not in model:
        items.append(
            f"**Model substitution.** The paper (PAL) infers personas with `{PAPER_EXTRACTOR}` fine-tuned on "
            f"PERSONA-CHAT. This build used `{model}`"
            + (f" with the LoRA adapter `{ex['adapter']}`" if ex.get("adapter") else " without a fine-tuned adapter")
            + ", so persona quality and style differ from the paper's PESConv; results are not directly "
              "comparable with the published numbers.")
    if manifest.get("settings", {}).get("keep_unsupported"):
        items.append("**Unsupported sentences kept.** This build ran with `--keep-unsupported`: persona sentences "
                     "with no support in the seeker's words were kept "
                     f"({manifest.get('grounding', {}).get('unsupported')} of them).")
    if manifest.get("settings", {}).get("quote_the_seeker") and not fact_style:
        quoted = manifest.get("grounding", {}).get("quoted_the_seeker")
        items.append("**Personas quote the seeker.** Where the extractor's sentence was not the seeker's own words, "
                     "the build keeps the seeker's statement that supports it instead"
                     + (f" ({quoted} sentences, each listed with what the extractor wrote in `rewritten.jsonl`)"
                        if quoted is not None else "")
                     + ": a paraphrase can pass the grounding check and still say something else. So persona "
                       "sentences are the seeker's words, with their typos and chat style, and some are longer "
                       "than a PERSONA-CHAT fact; meaning can still be lost when a clause is read out of its turn.")
    if manifest.get("settings", {}).get("drop_remarks") is False:
        items.append("**Remarks kept.** This build ran with `--keep-remarks`: remarks to the supporter (\"I will "
                     "try that.\", \"Thank you for listening.\") stay in the personas although they are not facts "
                     "about the seeker.")
    if not ex.get("adapter") and PAPER_EXTRACTOR not in model:
        items.append("**No persona-extraction fine-tuning recorded.** The extractor has no adapter in the "
                     "manifest; unless the model itself was fine-tuned for persona extraction, the personas "
                     "may be of low quality.")
    diffs = [f"{k} = {gen.get(k)} (paper: {v})" for k, v in PAPER_GENERATION.items()
             if k in gen and gen.get(k) != v]
    if diffs:
        items.append("**Decoding differs from the paper:** " + "; ".join(diffs) + ".")
    if ex.get("quantize") or ex.get("dtype") not in (None, "float32"):
        items.append(f"**Reduced precision.** Inference ran with dtype `{ex.get('dtype')}`"
                     + (f" and `{ex['quantize']}` quantisation" if ex.get("quantize") else "")
                     + "; outputs can differ slightly from full-precision runs.")
    scheme = manifest.get("split_scheme")
    if scheme and scheme != "standard":
        items.append(f"**Split scheme `{scheme}`.** The splits are not ESConv's standard 910/195/195 split files"
                     + (" but PAL's 910/260/130 split." if scheme == "pal" else "."))
    rejected = manifest.get("counts", {}).get("rejected", 0)
    if rejected:
        reasons = ", ".join(f"{k} ({v})" for k, v in manifest.get("rejects_by_reason", {}).items())
        items.append(f"**Rejected dialogs.** {rejected} input dialogs were not included"
                     + (f": {reasons}." if reasons else "."))
    max_dialogs = manifest.get("settings", {}).get("max_dialogs")
    if max_dialogs:
        items.append(f"**Partial build.** Only the first {max_dialogs} input records were read (`--max-dialogs`).")
    items.append("**English only; sensitive topics.** Conversations discuss depression, anxiety, break-ups, "
                 "job loss and similar topics; they are not clinical data.")
    return items


def card_body(manifest: dict, stats: dict[str, dict[str, int]], figures: list[str], repo_id: str | None = None) -> str:
    """The Markdown body: `templates/dataset_card.md` filled from the manifest and the shards' statistics."""
    from string import Template

    counts = manifest.get("counts", {})
    ex = manifest.get("extractor", {})
    settings = manifest.get("settings", {})
    splits = ordered_splits(stats)
    missing = [p for p, _ in schema_field_paths() if p not in FIELD_DESCRIPTIONS]
    if missing:
        raise InputError(f"dataset card: no description for schema field(s) {', '.join(missing)}")
    build_rows = [f"| created | {_md_value(manifest.get('created'))} |",
                  f"| code version | {_md_value(manifest.get('code_version'))} |",
                  f"| command | {_md_value(manifest.get('command'))} |",
                  f"| dialogs read / written / rejected | {counts.get('read')} / {counts.get('written')} / "
                  f"{counts.get('rejected')} |",
                  f"| build wall time | {manifest.get('wall_time_s')} s |"]
    grounding = manifest.get("grounding", {})
    if grounding:
        reasons = "; ".join(f"{n} {reason}" for reason, n in (grounding.get("by_reason") or {}).items())
        build_rows.append(f"| grounding check | {grounding.get('unsupported')} of {grounding.get('generated')} "
                          f"generated persona sentences were {grounding.get('action')}"
                          + (f" ({reasons})" if reasons else "") + f" (listed in `{grounding.get('listed_in')}`) |")
    inference = manifest.get("inference", {})
    if inference:
        build_rows.append(f"| annotated seeker turns | {inference.get('annotated_seeker_turns')} "
                          f"({inference.get('unique_inputs')} unique inputs) |")
    build_rows += [f"| input `{f.get('name')}` | {f.get('records_read')} records, sha256 `{f.get('sha256')}` |"
                   for f in manifest.get("input", {}).get("files", [])]
    per_utterance = settings.get("context", "utterance") == "utterance"
    figure_text = ("## Analysis figures\n\nMean cosine similarity between the supporter's responses and the seeker "
                   "persona visible at that turn, against the seeker's empathy score, relevance score and "
                   "emotion-intensity decrease (`python -m analysis.persona_similarity`; PAL paper, Figures 3 and "
                   "5).\n\n" + "".join(f"![{Path(fig).stem}]({fig})\n\n" for fig in figures)) if figures else ""
    return Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        start_utterance=settings.get("start_utterance", 3),
        dialogs=counts.get("written", sum(s["num_examples"] for s in stats.values())),
        split_text=", ".join(f"{s} {stats[s]['num_examples']}" for s in splits),
        repo_id=repo_id or "USER/NAME", splits=", ".join(splits),
        split_rows="\n".join(f"| {s} | {stats[s]['num_examples']} | {stats[s]['download_size']} |" for s in splits),
        split_scheme=manifest.get("split_scheme", "unknown"),
        split_settings=f" ({_md_value(manifest['split_settings'])})" if manifest.get("split_settings") else "",
        field_rows="\n".join(f"| `{p}` | {t} | {FIELD_DESCRIPTIONS[p]} |" for p, t in schema_field_paths()),
        requests=("one extraction request per seeker utterance (the utterance, with the supporter's message before "
                  "it as context) " if per_utterance else
                  "one extraction request per annotated seeker turn (the seeker's utterances up to and including "
                  "it, the paper's cumulative input) "),
        build_rows="\n".join(build_rows),
        extractor_rows="\n".join(f"| {k} | {_md_value(ex[k])} |" for k in sorted(ex)),
        build_settings=("\n**Build settings:** " + ", ".join(f"{k} = {_md_value(v)}" for k, v in sorted(settings.items()))
                        + ".\n") if settings else "",
        figures=figure_text,
        limitations="\n".join(f"- {x}" for x in limitations(manifest)),
    )


def public_manifest(manifest: dict) -> dict:
    """The manifest as published: every local path of the builder's machine (in the command, the input, the
    extractor's files) reduced to its file name, so nothing about that machine reaches the Hub; inputs stay named
    by file name and sha256. Remote URIs (gs://, hf://) are kept."""
    def local(token: str) -> bool:
        return token.startswith(("/", "~", "./", "../")) or (len(token) > 2 and token[1:3] in (":\\", ":/"))

    def redact(value):
        if isinstance(value, dict):
            return {k: redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [redact(v) for v in value]
        if not isinstance(value, str):
            return value
        words = []
        for word in value.split(" "):
            key, eq, rest = word.partition("=") if word.startswith("--") else ("", "", word)
            core = rest.lstrip("([\"'")
            path = core.rstrip(",;)]\"'")
            if local(path):
                rest = rest[:len(rest) - len(core)] + "<local>/" + re.split(r"[\\/]", path.rstrip("/\\"))[-1] + core[len(path):]
            words.append(key + eq + rest)
        return " ".join(words)

    return redact(manifest)


def build_card(folder: Path, manifest: dict, figures: list[str], repo_id: str | None = None) -> Any:
    """The dataset card for the shards under `folder` (laid out as in the manifest); figures are repo paths."""
    from huggingface_hub import DatasetCard

    stats = split_stats(folder, manifest)
    data = card_data(manifest, stats)
    content = f"---\n{data.to_yaml()}\n---\n\n{card_body(manifest, stats, figures, repo_id)}"
    return DatasetCard(content, ignore_metadata_errors=False)


def validate_card(text: str, manifest: dict, folder: Path | None = None) -> Any:
    """Parse a card with the Hub's and `datasets`' metadata tools; raise InputError on any mismatch."""
    import yaml
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    from schemas.pesconv import pesconv_features

    try:
        card = DatasetCard(text, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"dataset card metadata does not parse: {first}") from None
    data = card.data
    problems = []
    if data.license != LICENSE:
        problems.append(f"licence {data.license!r} != {LICENSE}")
    for key in ("language", "task_categories", "size_categories", "pretty_name", "tags"):
        if not getattr(data, key, None):
            problems.append(f"no {key}")
    configs = MetadataConfigs.from_dataset_card_data(data)
    infos = DatasetInfosDict.from_dataset_card_data(data)
    expected = manifest["counts"]["splits"]
    if list(configs) != ["default"]:
        problems.append(f"configs {list(configs)} != ['default']")
    else:
        files = {d["split"]: d["path"] for d in configs["default"]["data_files"]}
        if set(files) != set(expected):
            problems.append(f"config splits {sorted(files)} != manifest splits {sorted(expected)}")
        if folder is not None:
            for split, pattern in files.items():
                found = sorted(p.relative_to(folder).as_posix() for p in folder.glob(pattern))
                want = sorted(k for k, v in manifest["shards"].items() if v["split"] == split)
                if found != want:
                    problems.append(f"split {split}: data_files {pattern} match {found}, expected {want}")
    info = infos.get("default")
    if info is None:
        problems.append("no dataset_info")
    else:
        if info.features != pesconv_features():
            problems.append("dataset_info features differ from schemas.pesconv.pesconv_features()")
        sizes = {k: v.num_examples for k, v in (info.splits or {}).items()}
        if sizes != expected:
            problems.append(f"dataset_info split sizes {sizes} != manifest {expected}")
    body = card.text
    for heading in ("## Data fields", "## How it was built", "## Limitations", "## Ethics note", "## Citation"):
        if heading not in body:
            problems.append(f"missing section {heading!r}")
    if problems:
        raise InputError("dataset card is invalid: " + "; ".join(problems))
    return card
