"""Score a persona extractor for faithfulness, next to the untuned model and a rule baseline, in one run.

Held-out pairs (`--split-of DIR`: the persona-disjoint pairs a train_extractor run held out; or all
pairs of `--data FILE ...`, PERSONA-CHAT or Synthetic-Persona-Chat CSV, told apart by their columns):
precision / recall / F1 against the supported gold sentences, the unsupported share, ROUGE-L and
BLEU, with 95 % bootstrap intervals (definitions in `extractor.evaluation`). Each system reads one
utterance at a time with the partner's message before it, as the build does by default.

ESConv (`--esconv PATH`, no gold): a seeded sample of dialogs, built as the build builds them
(`--context utterance cumulative` compares the two inputs); the unsupported share of what the model
generated, the coverage of the seeker's first-person statements, speed, and real outputs printed
(utterance -> persona rows, and whole-dialog personas beside the seeker's words).

Systems: the extractor asked for (default: SmolLM2 + the shipped adapter), the same model
untuned (no adapter, same prompt), and the rule baseline (copy first-person statements); the
"+ check" rows apply the build's grounding check (sentences without support, not about the speaker,
changing the meaning of the words they copy, or remarks to the partner are dropped; `unsupported_share`
counts only the first kind, `changed_share` the third, `dropped_share` all four).

    python -m pipelines.evaluate_extractor --data ../shared/data/personachat/valid.csv --limit 50 --json outputs/eval.json
    python -m pipelines.evaluate_extractor --split-of extractor/default_adapter --limit 150 \\
        --esconv ../shared/data/esconv/test.json --json outputs/extractor_eval.json \\
        --model-card extractor/default_adapter/model_card.md
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli
from extractor.base import DEFAULT_BATCH_SIZE
from extractor.card import write_card_section
from extractor.dedup import merge_persona
from extractor.formatting import ExtractionInput
from extractor.referents import dialog_mentions, name_the_person
from extractor.verifier import JUDGES_DIR, STYLES, add_check_options
from schemas.esconv import SEEKER
from schemas.personachat import PersonaPair, read_pairs, subset

log = logging.getLogger("evaluate_extractor")
METRICS = ("precision", "recall", "f1", "unsupported_share", "dropped_share")
ESCONV_METRICS = ("unsupported_share", "changed_share", "dropped_share", "coverage")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = command_parser("python -m pipelines.evaluate_extractor", __doc__)
    p.add_argument("--data", nargs="+", help="pairs to score: PERSONA-CHAT CSV, Synthetic-Persona-Chat CSV, ParlAI "
                                             "*_both_original.txt or Hub dataset (default with --split-of: its data)")
    p.add_argument("--split-of", metavar="DIR",
                   help="a train_extractor output folder: score only the persona-disjoint pairs its split.json held out")
    p.add_argument("--limit", type=int, help="score only N pairs: the first N of --data, or a seeded sample of N "
                                             "held-out pairs with --split-of")
    p.add_argument("--esconv", metavar="PATH", help="also score on ESConv dialogs (a split file or folder)")
    p.add_argument("--esconv-dialogs", type=int, default=50, help="seeded sample of ESConv dialogs (default 50)")
    p.add_argument("--context", nargs="+", default=["utterance"], choices=["utterance", "cumulative"],
                   help="ESConv: the extractor's input form(s) to compare (default utterance)")
    p.add_argument("--start-utterance", type=int, default=3, help="ESConv: as in the build (default 3)")
    p.add_argument("--show", type=int, default=20, help="ESConv: utterance -> persona rows to print (default 20)")
    p.add_argument("--show-dialogs", type=int, default=10,
                   help="ESConv: whole-dialog personas to print beside the seeker's words (default 10)")
    p.add_argument("--extractor", default="default", help="extractor model (as in the build; default SmolLM2)")
    p.add_argument("--adapter", default="auto", help="LoRA adapter folder, 'auto' (shipped default) or 'none'")
    p.add_argument("--also-adapter", nargs="+", default=[], metavar="DIR",
                   help="also score these adapters (e.g. the shipped one beside a new one) in the same run")
    p.add_argument("--no-baselines", action="store_true", help="score only --extractor")
    p.add_argument("--baselines", nargs="+", choices=["untuned", "rule"], default=["untuned", "rule"],
                   help="baselines scored in the same run (default both)")
    p.add_argument("--persona-style", choices=STYLES, default="fact",
                   help="the '+ check' rows run the build's check in this style (as `pesconv-build --persona-style`)")
    p.add_argument("--judges", default=str(JUDGES_DIR), help="verifier and fact classifier folder (fact style)")
    add_check_options(p)
    p.add_argument("--keep-remarks", action="store_true",
                   help="quote style: the '+ check' rows keep remarks to the partner (as `pesconv-build --keep-remarks`)")
    p.add_argument("--keep-paraphrases", action="store_true",
                   help="quote style: keep the extractor's wording (as `pesconv-build --keep-paraphrases`)")
    p.add_argument("--seed", type=int, default=13, help="seed of the samples and the bootstrap (default 13)")
    p.add_argument("--json", metavar="OUT", help="write metrics (per system) and every output as JSON")
    p.add_argument("--model-card", metavar="MD", help="replace the '## Evaluation' section of this model card")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="generation batch (default %(default)s)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", choices=["torch", "ctranslate2"], default="torch",
                   help="inference backend, as the build's --backend (default %(default)s)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                   help="model dtype, as the build's --dtype (default float32 on cpu, bfloat16 on cuda)")
    p.add_argument("--cache", metavar="DIR", help="inference cache folder (as the build's --cache): outputs of an "
                                                  "extractor are reused by later runs on the same inputs")
    p.add_argument("--infer-only", action="store_true",
                   help="with --cache: only run the extractors over the inputs into the cache and stop (no judges, "
                        "no scores): a GPU worker infers, a CPU scores from the cache; --esconv then means every "
                        "dialog of PATH, with the build's requests")
    args = p.parse_args(argv)
    for name in ("limit", "esconv_dialogs", "batch_size", "max_new_tokens"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive")
    if args.infer_only and not args.cache:
        raise InputError("--infer-only needs --cache DIR (where the outputs go)")
    if not args.data and not args.split_of and not args.esconv:
        raise InputError("give --data FILE, --split-of DIR and/or --esconv PATH")
    if args.model_card and not Path(args.model_card).exists():  # checked before minutes of scoring, not after
        raise InputError(f"model card {args.model_card} does not exist")
    return args


def select_pairs(args: argparse.Namespace) -> tuple[list[PersonaPair], str]:
    if not args.split_of:
        pairs = [p for source in args.data for p in read_pairs(source)]
        if args.limit:
            pairs = pairs[:args.limit]
        return pairs, f"{', '.join(args.data)}" + (f", first {args.limit} pairs" if args.limit else "")
    from extractor.heldout import read_split

    split_file = Path(args.split_of) / "split.json"
    pairs, split = read_split(Path(args.split_of), args.data)
    data = split["data"]
    held = list(split["heldout"])
    if args.limit and args.limit < len(held):
        held = sorted(random.Random(args.seed).sample(held, args.limit))
    by = split.get("split_by", "row (an old split: held-out gold sentences may occur in training targets)")
    return subset(pairs, held), (f"{', '.join(data)}: {len(held)} of the {len(split['heldout'])} pairs held out by "
                                 f"{split_file} (split by {by}; seed {split['seed']})")


@dataclass
class System:
    label: str
    name: str | None  # extractor name; None = rule baseline
    adapter: str = "none"


class Runner:
    """Loads each model once and extracts batches of inputs, timing the generation."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.loaded: dict[tuple[str, str], Any] = {}
        self.provenance: dict[str, dict] = {}

    def extract(self, system: System, inputs: Sequence[ExtractionInput]) -> tuple[list[list[str]], float]:
        """Persona sentences per input and the seconds the extraction took."""
        if system.name is None:
            started = time.perf_counter()
            return [rule_sentences(i) for i in inputs], time.perf_counter() - started
        from tqdm import tqdm

        from extractor.base import GenerationSettings
        from extractor.loading import resolve_extractor

        key = (system.name, system.adapter)
        if key not in self.loaded:
            settings = GenerationSettings(max_new_tokens=self.args.max_new_tokens)
            spec = resolve_extractor(system.name, system.adapter, device=self.args.device, settings=settings,
                                     dtype=getattr(self.args, "dtype", None), backend=self.args.backend)
            self.loaded[key] = spec.load()
            self.loaded[key].batch_size = self.args.batch_size  # --batch-size is the generation batch
            self.provenance[system.label] = spec.describe()
        ext = self.loaded[key]
        cache, keys, out = None, {}, {}
        if self.args.cache:
            from pipelines.inference_cache import InferenceCache, request_key

            cache = InferenceCache(self.args.cache, ext.fingerprint)
            keys = {i: request_key(ext.fingerprint, i) for i in set(inputs)}
            found = cache.load()
            out = {i: found[k] for i, k in keys.items() if k in found}
        unique = sorted(set(inputs) - set(out), key=ext.input_length)
        started = time.perf_counter()
        size = self.args.batch_size
        for s in tqdm(range(0, len(unique), size), desc=system.label, unit="batch", file=sys.stderr):
            batch = unique[s:s + size]
            results = ext.extract(batch)
            out.update(zip(batch, results))
            if cache is not None:
                cache.append([(keys[i], r) for i, r in zip(batch, results)])
        return [out[i] for i in inputs], time.perf_counter() - started


def rule_sentences(inp: ExtractionInput) -> list[str]:
    from extractor.rule import rule_baseline

    return rule_baseline(inp.utterances)


def systems(args: argparse.Namespace) -> list[System]:
    out = [System("extractor", None if args.extractor == "rule" else args.extractor, args.adapter)]
    out += [System(f"extractor ({Path(a).name})", args.extractor, a) for a in args.also_adapter]
    if not args.no_baselines:
        out += [System("untuned", args.extractor, "none")] if "untuned" in args.baselines else []
        out += [System("rule", None)] if "rule" in args.baselines else []
    return out


def build_check(args: argparse.Namespace):
    """The build's check (`pipelines.build_steps.GroundPersonas`) with the build's settings: evaluation scores
    exactly what a build with the same options keeps."""
    from pipelines.build_settings import BuildSettings
    from pipelines.build_steps import GroundPersonas

    check = GroundPersonas(BuildSettings.from_args(args).replace(
        device="cuda" if str(args.device).startswith("cuda") else "cpu"))
    check.setup()
    return check


def checked(check, inputs: Sequence[ExtractionInput], outs: Sequence[list[str]],
            people: Sequence[tuple[list, int]] | None = None) -> list[tuple[list[str], list]]:
    """Per input: (kept sentences, [(dropped sentence, reason)]) as the build decides them, in batches: nothing from
    an input the build does not ask the extractor about (`pipelines.build_steps.asked`), the check's verdicts on the
    others, a pronoun named as the build names it (`people`: per input, the dialog's `mentions` and the turn of its
    utterance; by default those of the input itself, the partner's message and the utterance)."""
    from pipelines.build_steps import asked

    ask = asked(getattr(check, "check", None), check.settings, inputs)
    refer = check.settings.referents and check.settings.style == "fact"
    out = []
    for s in range(0, len(inputs), 256):
        batch = [(str(k), (inp, list(o))) for k, (inp, o, a) in
                 enumerate(zip(inputs[s:s + 256], outs[s:s + 256], ask[s:s + 256])) if a]
        verdicts = dict(check.process(batch)) if batch else {}
        for k, inp in enumerate(inputs[s:s + 256]):
            sentences = verdicts[str(k)].sentences if str(k) in verdicts else ()
            named, turn = (([], 0) if not refer else people[s + k] if people else
                           (dialog_mentions([("supporter", inp.context)] + [("seeker", u) for u in inp.utterances]), 1))
            out.append(([name_the_person(g.sentence, named, turn + (g.utterance or 0), g.span[0] if g.span else 0)[0]
                         if named else g.sentence for g in sentences if g.supported],
                        [(g.sentence, g.reason) for g in sentences if not g.supported and g.part is None]))
    return out


# ------------------------------------------------------------------------------------------ held-out pairs
def pair_inputs(pairs: list[PersonaPair]) -> list[ExtractionInput]:
    """One extraction per utterance of each pair, with the partner's message before it."""
    return [ExtractionInput((u,), p.context_of(i)) for p in pairs for i, u in enumerate(p.utterances)]


def by_pair(pairs: Sequence[PersonaPair], per_input: Sequence) -> list[list]:
    """Per-input results (in `pair_inputs` order) grouped by pair."""
    out, k = [], 0
    for p in pairs:
        out.append(list(per_input[k:k + len(p.utterances)]))
        k += len(p.utterances)
    return out


def fold_pairs(pairs: Sequence[PersonaPair], sentences: Sequence[list[str]]) -> list[list[str]]:
    """Each pair's persona: the sentences of its utterances (in `pair_inputs` order), near-duplicates merged."""
    out = []
    for per_input in by_pair(pairs, sentences):
        persona: list[str] = []
        for found in per_input:
            persona = merge_persona(persona, found)
        out.append(persona)
    return out


def infer_only(pairs: list[PersonaPair], dialogs, runner: Runner, args) -> dict[str, Any]:
    """Every model system over the pairs' and the dialogs' inputs, into the cache; seconds and inputs/s each."""
    from extractor.requests import extraction_requests

    inputs = pair_inputs(pairs) + [inp for d in dialogs for c in args.context
                                   for inp, _ in extraction_requests(d, args.start_utterance, c)]
    unique = len(set(inputs))
    timing = {}
    for system in systems(args):
        if system.name is None:  # the rule needs no cache
            continue
        _, seconds = runner.extract(system, inputs)
        timing[system.label] = {"inputs": unique, "seconds": round(seconds, 1),
                                "inputs_per_s": round(unique / seconds, 2) if seconds > 1 else None}
        print(f"{system.label}: {unique} inputs in {seconds:.0f} s into {args.cache}", file=sys.stderr)
    return timing


def evaluate_pairs(pairs: list[PersonaPair], runner: Runner, scorer, check, args) -> tuple[dict, list[dict]]:
    from extractor.alignment import supported_gold
    from extractor.evaluation import bootstrap, drop_counts, score_pair, summarise, text_overlap

    scorer.prepare([t for p in pairs for t in (*p.utterances, *p.persona)])
    golds = [supported_gold(p, scorer) for p in pairs]
    inputs = pair_inputs(pairs)
    results: dict[str, dict] = {}
    rows = [{"source": p.source, "utterances": list(p.utterances), "gold": list(p.persona), "supported_gold": g}
            for p, g in zip(pairs, golds)]
    for system in systems(args):
        outs, seconds = runner.extract(system, inputs)
        started = time.perf_counter()
        judged = checked(check, inputs, outs)
        check_seconds = time.perf_counter() - started
        scorer.prepare([s for o in outs for s in o] + [s for kept, _ in judged for s in kept])
        variants = {system.label: fold_pairs(pairs, outs),
                    f"{system.label} + check": fold_pairs(pairs, [kept for kept, _ in judged])}
        reasons = [[r for _, dropped in per_input for _, r in dropped] for per_input in by_pair(pairs, judged)]
        for label, preds in variants.items():
            drops = reasons if label == system.label else [[] for _ in pairs]
            scores = [score_pair(scorer, pred, gold, drop_counts(r)) for pred, gold, r in zip(preds, golds, drops)]
            results[label] = {**summarise(scores), **text_overlap(preds, golds),
                              "ci95": bootstrap(scores, METRICS, args.seed), "pairs": len(pairs),
                              # from the cache: no speed to report
                              "inputs_per_s": len(set(inputs)) / seconds if seconds > 1 else float("nan"),
                              "check_s": round(check_seconds, 1)}
            for row, pred in zip(rows, preds):
                row[label] = pred
    return results, rows


# ------------------------------------------------------------------------------------------ ESConv
def sample_dialogs(path: str, n: int, seed: int):
    from schemas.esconv import read_dialogs

    dialogs, _ = read_dialogs(path)
    if not dialogs:
        raise InputError(f"no usable ESConv dialogs in {path}")
    pick = sorted(random.Random(seed).sample(range(len(dialogs)), min(n, len(dialogs))))
    return [dialogs[i] for i in pick]


def check_not_trained_on(dialogs, args) -> None:
    """Refuse to score ESConv dialogs whose self-training labels trained an adapter under test."""
    from extractor.loading import DEFAULT_ADAPTER_DIR

    adapters = [DEFAULT_ADAPTER_DIR if a == "auto" else Path(a) for a in [args.adapter, *args.also_adapter]
                if a not in ("none", "")]
    ids = {d.dialog_id for d in dialogs}
    for folder in adapters:
        split = folder / "split.json"
        trained = set(json.loads(split.read_text()).get("esconv_label_dialogs", [])) if split.exists() else set()
        if ids & trained:
            raise InputError(f"{len(ids & trained)} of the sampled ESConv dialogs trained the adapter {folder} "
                             "(its split.json): evaluate on another split (e.g. test.json)")


def evaluate_esconv(dialogs, runner: Runner, scorer, check, args) -> tuple[dict, dict]:
    from extractor.evaluation import bootstrap, score_dialog, summarise
    from extractor.requests import WHOLE_DIALOG, annotated_positions, extraction_requests

    configs = [(s, c) for s in systems(args) for c in (args.context if s.label == "extractor" else ["utterance"])]
    results: dict[str, dict] = {}
    shown: dict[str, Any] = {}
    for system, context in configs:
        label = system.label + (f" ({context})" if system.label == "extractor" and args.context != ["utterance"]
                                else "")
        requests = [extraction_requests(d, args.start_utterance, context) for d in dialogs]
        flat = [inp for reqs in requests for inp, _ in reqs]
        outs, seconds = runner.extract(system, flat)
        named = [dialog_mentions([(t.speaker, t.text) for t in d.turns]) for d in dialogs]
        people = [(named[i], turn) for i, reqs in enumerate(requests) for _, turn in reqs] if context == "utterance" \
            else None
        judged = checked(check, flat, outs, people)
        scorer.prepare([t for inp, o in zip(flat, outs) for t in (*inp.utterances, *o)])
        scores, k, per_dialog = [], 0, []
        for d, reqs in zip(dialogs, requests):
            persona: list[str] = []
            reasons, turn_rows = [], []
            for inp, turn in reqs:
                kept, dropped = judged[k]
                k += 1
                reasons += [r for _, r in dropped]
                if context == "utterance" or turn == WHOLE_DIALOG:
                    persona = merge_persona(persona, kept)
                turn_rows.append({"turn": turn, "context": inp.context, "utterances": list(inp.utterances),
                                  "kept": kept, "dropped": [s for s, _ in dropped],
                                  "dropped_why": [r for _, r in dropped]})
            seeker = [t.text for t in d.turns if t.speaker == SEEKER]
            raw_total = sum(len(r["kept"]) + len(r["dropped"]) for r in turn_rows)  # everything the model wrote
            scores.append(score_dialog(scorer, persona, raw_total, reasons, seeker))
            per_dialog.append({"dialog_id": d.dialog_id, "seeker": seeker, "persona": persona, "requests": turn_rows})
        turns = sum(len(annotated_positions(d, args.start_utterance)) for d in dialogs)
        summary = summarise(scores)
        results[label] = {**{k: summary[k] for k in ("unsupported_share", "not_about_self_share", "changed_share",
                                                     "remark_share", "dropped_share", "coverage")},
                          "persona_sentences_per_dialog": sum(len(x["persona"]) for x in per_dialog) / len(dialogs),
                          "generated": summary["generated"], "statements": summary["statements"],
                          "ci95": bootstrap(scores, ESCONV_METRICS, args.seed), "dialogs": len(dialogs),
                          "annotated_turns": turns, "requests": len(flat), "seconds": round(seconds, 1),
                          # from the cache (or the rule, in no time): no speed to report
                          "turns_per_s": turns / seconds if seconds > 1 else float("nan")}
        shown[label] = per_dialog
    return results, shown


def print_examples(per_dialog: list[dict], rows: int, dialogs: int) -> str:
    """Utterance -> persona rows (kept, and [dropped] by the grounding check); whole-dialog personas."""
    lines = [f"## {rows} seeker utterances -> persona (extractor, per utterance; [x] = dropped by the check, "
             "with the reason)", ""]
    candidates = [(d["dialog_id"], r) for d in per_dialog for r in d["requests"]]
    for _dialog_id, r in random.Random(0).sample(candidates, min(rows, len(candidates))):
        out = "; ".join(r["kept"] + [f"[x] {s} ({why})" for s, why in zip(r["dropped"], r["dropped_why"])]) or "NONE"
        context = f"(after: {r['context'][:80]}) " if r["context"] else ""
        lines.append(f"- {context}**{' / '.join(r['utterances'])[:300]}** -> {out}")
    lines += ["", f"## {dialogs} whole-dialog personas beside the seeker's utterances", ""]
    for d in per_dialog[:dialogs]:
        lines.append(f"### {d['dialog_id']}")
        lines += [f"> {u}" for u in d["seeker"]]
        lines += [""] + [f"- {s}" for s in d["persona"]] + ([] if d["persona"] else ["- (none)"]) + [""]
    return "\n".join(lines)


def table(results: dict[str, dict], keys: Sequence[str], extra: Sequence[tuple[str, str]] = ()) -> str:
    head = "| system | " + " | ".join(keys) + "".join(f" | {name}" for name, _ in extra) + " |"
    lines = [head, "|---|" + "---:|" * (len(keys) + len(extra))]
    for label, r in results.items():
        cells = []
        for k in keys:
            lo, hi = r.get("ci95", {}).get(k, [None, None])
            cells.append(f"{r[k]:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""))
        cells += [fmt.format(r.get(key, float("nan"))) for key, fmt in extra]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    t0, version = time.time(), code_version()  # the code that runs, even if the checkout changes meanwhile
    pairs, described = select_pairs(args) if (args.data or args.split_of) else ([], "")
    if args.infer_only:  # every dialog, as the build reads them; nothing is scored, so training dialogs may be in
        from schemas.esconv import read_dialogs

        dialogs = read_dialogs(args.esconv)[0] if args.esconv else []
        runner = Runner(args)
        timing = infer_only(pairs, dialogs, runner, args)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps({"code": version, "device": args.device, "pairs": len(pairs),
                                                   "dialogs": len(dialogs), "timing": timing,
                                                   "provenance": runner.provenance}, indent=1, default=str))
        return 0
    dialogs = sample_dialogs(args.esconv, args.esconv_dialogs, args.seed) if args.esconv else []
    check_not_trained_on(dialogs, args)
    from extractor.grounding import SupportScorer, minilm_embedder

    scorer = SupportScorer(minilm_embedder("cuda" if str(args.device).startswith("cuda") else "cpu"))
    check = build_check(args)
    runner = Runner(args)
    results, rows = evaluate_pairs(pairs, runner, scorer, check, args) if pairs else ({}, [])
    report = [f"Held-out pairs: {described}. Reference: the gold sentences an utterance of the pair states "
              f"({sum(len(r['supported_gold']) for r in rows)} of {sum(len(r['gold']) for r in rows)}).", "",
              table(results, METRICS, [("rouge_l", "{:.3f}"), ("bleu", "{:.2f}"), ("sentences_per_item", "{:.2f}"),
                                       ("inputs_per_s", "{:.2f}")])] if pairs else []
    record: dict[str, Any] = {"data": described, "pairs": len(pairs), "results": results}
    if dialogs:
        es_results, shown = evaluate_esconv(dialogs, runner, scorer, check, args)
        examples = print_examples(shown[next(iter(shown))], args.show, args.show_dialogs)
        report += ["", f"ESConv: {len(dialogs)} dialogs of {args.esconv} (seeded sample, seed {args.seed}); "
                       "coverage = share of the seeker's first-person statements that support a persona sentence "
                       "of the dialog (after the grounding check).", "",
                   table(es_results, ESCONV_METRICS, [("persona_sentences_per_dialog", "{:.1f}"),
                                                      ("turns_per_s", "{:.2f}")])]
        record["esconv"] = {"data": args.esconv, "dialogs": len(dialogs), "results": es_results,
                            "outputs": shown}
        print(examples, file=sys.stderr)
    text = "\n".join(report)
    print(text)
    command = "python -m pipelines.evaluate_extractor " + " ".join(shlex.quote(a) for a in argv)
    record.update({"command": command, "code": version, "device": args.device,
                   "provenance": runner.provenance, "outputs": rows})
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1, default=str))
    if args.model_card:
        body = (text + f"\n\nGreedy decoding, {args.max_new_tokens} new tokens, device {args.device}; 95 % bootstrap "
                "intervals over pairs / dialogs in brackets. Definitions: `extractor/evaluation.py`.\n\n"
                f"```\n{command}\n```")
        write_card_section(args.model_card, "Evaluation", body)
    print(f"scored {len(results)} systems on {len(pairs)} pairs" + (f" and {len(dialogs)} ESConv dialogs" if dialogs
                                                                     else "")
          + f" in {(time.time() - t0) / 60:.1f} min" + (f"; wrote {args.json}" if args.json else "")
          + (f"; updated {args.model_card}" if args.model_card else ""), file=sys.stderr)
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
