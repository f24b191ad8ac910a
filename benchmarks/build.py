"""How the build scales, and what Beam costs over a bare loop, in one run.

1. **Scale without the model** (`--extractor rule`, the copy-first-person-statements baseline): ESConv
   replicated 1x, 10x, 100x (each copy's dialogs made distinct by a marker in the first turn, so
   none is rejected as a duplicate), each built in a fresh process. Prints wall time, dialogs/s and
   peak memory per size, and the ratios to 1x: time should grow linearly (seconds per dialog ~
   constant) and memory should stay bounded.
2. **Beam overhead with the real model**: the same seeker turns of the first `--model-dialogs` dialogs
   through the Beam build (fresh cache) and through a bare Python loop (load the extractor, extract
   the unique inputs sorted by length in batches of the same size, run the same check, fold, write). Prints both
   and the ratio (target: the build within 10 % of the loop).
3. **Inference backends** (`--backend-dialogs N`): the same N seeded ESConv dialogs built by each of `--backends`
   (and with each of `--ask`'s thresholds) in one process, stage by stage (read, load, ask, infer, check, fold,
   write): the inference-time ratio of each run to the first (model load apart) and the share of kept persona
   sentences that are identical, every difference listed.
4. **The check alone** (`--check-dialogs N --cache DIR`): the cached proposals of N seeded dialogs judged by the
   default check with up-front embedding of everything and with the build's embedding of what is compared: seconds
   of each (models apart) and whether the verdicts are identical.

    python -m benchmarks.build --sizes 1 10 100 --model-dialogs 20 --json outputs/benchmark_build.json
    python -m benchmarks.build --sizes --model-dialogs 0 --backend-dialogs 100 --json outputs/benchmark_backends.json
    python -m benchmarks.build --sizes --model-dialogs 0 --check-dialogs 100 --cache outputs/pesconv/cache
    python -m benchmarks.build --sizes --model-dialogs 0 --backend-dialogs 100 --backends torch --ask 0 0.02
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.cli import REPO_ROOT, InputError, command_parser, quiet_libraries, run_cli
from extractor.base import DEFAULT_BATCH_SIZE
from schemas.esconv import iter_raw_records, list_input_files

ESCONV = REPO_ROOT.parent / "shared" / "data" / "esconv"
# Runs one build in a child process and prints its peak memory (the child's own and its workers').
CHILD = """
import json, resource, sys, time
from pipelines.build_pesconv import main
t = time.time(); code = main(sys.argv[1:]); wall = time.time() - t
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print("BENCH " + json.dumps({"code": code, "wall_s": wall, "peak_rss_mb": peak / 1024}))
"""


def replicate(source: Path, copies: int, folder: Path) -> int:
    """Write `copies` distinct copies of every split file of `source` into `folder`; returns the dialogs."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in list_input_files(source):
        with open(folder / path.name, "w", encoding="utf-8") as out:
            records = [json.loads(r.text) if r.text is not None else r.payload for r in iter_raw_records(path)]
            for copy in range(copies):
                for rec in records:
                    if copy:  # the id is a hash of the turns: mark one turn so each copy is a new dialog
                        rec = {**rec, "dialog": list(rec["dialog"])}
                        first = dict(rec["dialog"][0])
                        key = "text" if "text" in first else "content"
                        first[key] = f"{first[key]} (copy {copy})"
                        rec["dialog"][0] = first
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    total += 1
    return total


def child_build(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO_ROOT, capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise InputError(f"benchmark build failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(lines[-1][6:])


def scale(sizes: list[int], source: Path, work: Path) -> list[dict]:
    rows = []
    for k in sizes:
        folder = work / f"esconv-{k}x"
        dialogs = replicate(source, k, folder)
        result = child_build(["--input", str(folder), "--output", str(work / f"build-{k}x"), "--extractor", "rule",
                              "--num-shards", str(max(1, k)), "--progress-every", "60"])
        manifest = json.loads((work / f"build-{k}x" / "manifest.json").read_text())
        assert manifest["counts"]["written"] == dialogs, "every replicated dialog must be written"
        rows.append({"size": f"{k}x", "dialogs": dialogs, "wall_s": round(result["wall_s"], 1),
                     "dialogs_per_s": round(dialogs / result["wall_s"], 1),
                     "peak_rss_mb": round(result["peak_rss_mb"])})
        print(f"rule build {k:>3}x: {dialogs} dialogs in {result['wall_s']:.1f} s ({dialogs / result['wall_s']:.1f} "
              f"dialogs/s), peak memory {result['peak_rss_mb']:.0f} MB", flush=True)
    base = rows[0]
    for r in rows:
        r["seconds_per_dialog_vs_1x"] = round((r["wall_s"] / r["dialogs"]) / (base["wall_s"] / base["dialogs"]), 2)
        r["memory_vs_1x"] = round(r["peak_rss_mb"] / base["peak_rss_mb"], 2)
    return rows


def staged_build(dialogs: list, spec, batch_size: int, settings=None,
                 concat_cache: bool = False) -> tuple[dict[str, float], dict]:
    """The build's work on `dialogs` without Beam, stage by stage, with the build's own functions: read is done by
    the caller; infer (unique inputs that could state something, length-sorted batches), check (the build's
    GroundPersonas on batches), fold (fold_dialog) and write (Parquet bytes). Returns seconds per stage (model load
    apart) and each dialog's whole-dialog persona, for comparing backends."""
    from pipelines.build_settings import BuildSettings
    from pipelines.build_steps import GroundPersonas, asked, expand_requests, fold_dialog, parquet_bytes
    from pipelines.elements import Outcome, TurnOutcome, ValidDialog
    from schemas.esconv import RawRecord

    settings = settings or BuildSettings()
    times: dict[str, float] = {}
    started = time.perf_counter()
    ext = spec.load()
    ext.batch_size = batch_size
    if concat_cache:
        ext.roomy_cache = False
    times["load"] = time.perf_counter() - started
    valid = [(d.dialog_id, ValidDialog(d, i, "test", RawRecord(d.source, d.source_index, None)))
             for i, d in enumerate(dialogs)]
    requests = [r for kv in valid for r in expand_requests(kv, settings.start_utterance, settings.context,
                                                          spec.fingerprint)]
    unique = {r.key: r.input for r in requests}
    started = time.perf_counter()
    check = GroundPersonas(settings)
    check.setup()
    keys = list(unique)
    decided = asked(getattr(check, "check", None), settings, [unique[k] for k in keys])
    asked_keys = sorted((k for k, a in zip(keys, decided) if a), key=lambda k: ext.input_length(unique[k]))
    times["ask"] = time.perf_counter() - started
    started = time.perf_counter()
    proposed = {}
    for s in range(0, len(asked_keys), batch_size):
        chunk = asked_keys[s:s + batch_size]
        proposed.update(zip(chunk, ext.extract([unique[k] for k in chunk])))
    times["infer"] = time.perf_counter() - started
    started = time.perf_counter()
    outcomes = {k: Outcome() for k in unique}
    items = [(k, (unique[k], proposed[k])) for k in asked_keys]
    for s in range(0, len(items), 512):
        outcomes.update(check.process(items[s:s + 512]))
    times["check"] = time.perf_counter() - started
    started = time.perf_counter()
    rows, personas = [], {}
    for dialog_id, v in valid:
        placed = [TurnOutcome(r.turn, outcomes[r.key]) for r in requests if r.dialog_id == dialog_id]
        for out in fold_dialog((dialog_id, {"dialog": [v], "persona": placed}), settings):
            if isinstance(out, dict):
                rows.append(out)
                personas[dialog_id] = list(out["persona"])
    times["fold"] = time.perf_counter() - started
    started = time.perf_counter()
    parquet_bytes(rows)
    times["write"] = time.perf_counter() - started
    times["inputs"] = len(asked_keys)
    return times, personas


def compare_backends(n_dialogs: int, batch_size: int, source: Path, backends: list[str], seed: int = 13,
                     device: str = "cpu", asks: list[float] | None = None) -> dict:
    """The same seeded dialogs built by each backend (in this process, model load timed apart), and with each of
    `asks` (`CheckSettings.ask`, which inputs the extractor is asked about) where given: time per stage, the ratio of
    each run's inference time to the first's, and how many kept persona sentences agree, with every difference
    listed."""
    import random

    from extractor.loading import resolve_extractor
    from extractor.verifier import CheckSettings
    from pipelines.build_settings import BuildSettings
    from schemas.esconv import read_dialogs

    started = time.perf_counter()
    dialogs = read_dialogs(source)[0]
    dialogs = random.Random(seed).sample(dialogs, min(n_dialogs, len(dialogs)))
    read_s = time.perf_counter() - started
    runs = {}
    for name in backends:
        backend, _, option = name.partition("-")
        quantize = None if option in ("", "concat") else option
        spec = resolve_extractor("default", device=device, backend=backend, quantize=quantize)
        for ask in asks or [CheckSettings().ask]:
            run = f"{name}, ask {ask}" if asks else name
            settings = BuildSettings(device=device, check=CheckSettings(ask=ask))
            times, personas = staged_build(dialogs, spec, batch_size, settings, concat_cache=option == "concat")
            runs[run] = {"times": {"read": read_s, **times}, "personas": personas}
            print(f"{run}: " + ", ".join(f"{k} {v:.1f} s" if k != "inputs" else f"{v} inputs"
                                         for k, v in runs[run]["times"].items()), flush=True)
    base = next(iter(runs))
    out = {"dialogs": len(dialogs), "seed": seed, "batch_size": batch_size, "device": device, "backends": {}}
    for name in runs:
        same = total = 0
        differences = []
        for dialog_id, ref in runs[base]["personas"].items():
            got = runs[name]["personas"].get(dialog_id, [])
            total += max(len(ref), len(got))
            same += len(set(ref) & set(got))
            differences += [{"dialog_id": dialog_id, "only_" + base: sorted(set(ref) - set(got)),
                             "only_" + name: sorted(set(got) - set(ref))}] if set(ref) != set(got) else []
        t = runs[name]["times"]
        out["backends"][name] = {**{k: round(v, 2) for k, v in t.items()},
                                 "infer_vs_" + base: round(t["infer"] / runs[base]["times"]["infer"], 3),
                                 "identical_sentences": same, "sentences": total,
                                 "identical_share": round(same / total, 4) if total else 1.0,
                                 "differences": differences}
        print(f"{name} / {base}: inference time x{out['backends'][name]['infer_vs_' + base]:.2f}; kept persona "
              f"sentences identical {same} of {total} ({out['backends'][name]['identical_share']:.1%}), "
              f"{len(differences)} dialogs differ", flush=True)
        for d in differences:
            print(f"  {d['dialog_id']}: only {base}: {d['only_' + base]} | only {name}: {d['only_' + name]}")
    return out


def check_stage(n_dialogs: int, source: Path, cache_dir: str, seed: int = 13, device: str = "cpu") -> dict:
    """The default check alone, on the cached proposals of `n_dialogs` seeded dialogs, two ways in this process
    (models loaded before timing): embedding every utterance, statement and sentence up front (`SupportScorer.prepare`,
    the reference) and embedding only what `support` compares (what the build does). Prints the seconds of each, its
    models' share, and whether their verdicts are identical."""
    import random

    from extractor.grounding import SupportScorer, may_state_a_fact, minilm_embedder
    from extractor.loading import resolve_extractor
    from extractor.verifier import JUDGES_DIR, PersonaCheck
    from pipelines.build_settings import BuildSettings
    from pipelines.build_steps import expand_requests
    from pipelines.elements import ValidDialog
    from pipelines.inference_cache import InferenceCache
    from schemas.esconv import RawRecord, read_dialogs

    spec, settings = resolve_extractor("default", device=device), BuildSettings(device=device)
    cached = InferenceCache(cache_dir, spec.fingerprint).load()
    dialogs = random.Random(seed).sample(read_dialogs(source)[0], n_dialogs)
    valid = [(d.dialog_id, ValidDialog(d, i, "test", RawRecord(d.source, d.source_index, None)))
             for i, d in enumerate(dialogs)]
    unique = {r.key: r.input for kv in valid
              for r in expand_requests(kv, settings.start_utterance, settings.context, spec.fingerprint)}
    asked = [k for k, inp in unique.items() if may_state_a_fact(inp.utterances)]
    missing = [k for k in asked if k not in cached]
    if missing:
        raise InputError(f"{len(missing)} of {len(asked)} inputs are not in the inference cache {cache_dir}: fill it "
                         f"first (python -m pipelines.build_pesconv --cache-dir {cache_dir})")
    requests = [(unique[k], cached[k]) for k in asked]
    runs = {}
    for name in ("embed everything first", "embed what support compares"):
        check = PersonaCheck(SupportScorer(minilm_embedder(device)), settings.judges or JUDGES_DIR, device,
                             settings.check)
        check.verifier(), check.rewriter(), check.classifier()  # loaded before timing
        check.scorer.embed(["a warm-up sentence"])
        started = time.perf_counter()
        if name == "embed everything first":
            check.scorer.prepare([t for inp, sents in requests for t in (*inp.utterances, *sents)])
            check.seconds["embedding"] += time.perf_counter() - started
        verdicts = [v for s in range(0, len(requests), 512) for v in check.check_many(requests[s:s + 512])]
        runs[name] = {"seconds": round(time.perf_counter() - started, 2),
                      **{f"{k}_s": round(v, 2) for k, v in sorted(check.seconds.items())}, "verdicts": verdicts}
        print(f"check, {name}: {runs[name]['seconds']} s for {len(requests)} inputs of {n_dialogs} dialogs ("
              + ", ".join(f"{k[:-2]} {v} s" for k, v in runs[name].items() if k.endswith("_s")) + ")", flush=True)
    ref, new = (runs[k].pop("verdicts") for k in runs)
    out = {"dialogs": n_dialogs, "seed": seed, "inputs": len(requests), "runs": runs,
           "ratio": round(runs["embed what support compares"]["seconds"] / runs["embed everything first"]["seconds"], 3),
           "identical_verdicts": ref == new}
    print(f"check time, embed what support compares / embed everything first: x{out['ratio']:.2f}; verdicts "
          f"{'identical' if ref == new else 'DIFFER'}", flush=True)
    return out


def bare_loop(n_dialogs: int, batch_size: int, source: str) -> int:
    """The build's work on its first `n_dialogs` dialogs as a plain loop (`staged_build`); returns the inputs."""
    from extractor.loading import resolve_extractor
    from schemas.esconv import read_dialogs

    dialogs = read_dialogs(Path(source))[0][:n_dialogs]
    times, _ = staged_build(dialogs, resolve_extractor("default"), batch_size)
    return int(times["inputs"])


def overhead(n_dialogs: int, batch_size: int, source: Path, work: Path) -> dict:
    """The real extractor over the same requests, each run in a fresh process timed from outside (start-up,
    imports and model load count for both): bare loop vs the Beam build."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "from benchmarks.build import bare_loop; "
                           f"print('INPUTS', bare_loop({n_dialogs}, {batch_size}, {str(source)!r}))"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    loop_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise InputError(f"benchmark loop failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    n_inputs = int(proc.stdout.split("INPUTS")[-1])
    started = time.perf_counter()
    child_build(["--input", str(source), "--max-dialogs", str(n_dialogs), "--output", str(work / "model-build"),
                 "--batch-size", str(batch_size), "--progress-every", "60"])
    build_s = time.perf_counter() - started
    row = {"dialogs": n_dialogs, "unique_inputs": n_inputs, "batch_size": batch_size,
           "loop_s": round(loop_s, 1), "beam_build_s": round(build_s, 1), "beam_over_loop": round(build_s / loop_s, 3)}
    print(f"default extractor, {n_inputs} unique inputs of {n_dialogs} dialogs (fresh processes, model load "
          f"included): bare loop {loop_s:.1f} s, Beam build {build_s:.1f} s -> Beam / loop = {row['beam_over_loop']:.2f}",
          flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m benchmarks.build", __doc__)
    p.add_argument("--input", default=str(ESCONV), help="ESConv folder to replicate (default ../shared/data/esconv)")
    p.add_argument("--sizes", type=int, nargs="*", default=[1, 10, 100], help="replication factors (default 1 10 100)")
    p.add_argument("--model-dialogs", type=int, default=20,
                   help="dialogs for the Beam-vs-loop comparison with the real model (0 = skip; default 20)")
    p.add_argument("--backend-dialogs", type=int, default=0,
                   help="seeded ESConv dialogs built by each of --backends, stage by stage (0 = skip; default 0)")
    p.add_argument("--backends", nargs="+", default=["torch", "ctranslate2", "ctranslate2-int8"],
                   help="backends to compare, the first is the reference (BACKEND, BACKEND-int8, or torch-concat: the "
                        "torch path with transformers' concatenating key/value cache; default %(default)s)")
    p.add_argument("--ask", type=float, nargs="+", metavar="P",
                   help="with --backend-dialogs: build with each of these --ask thresholds (which inputs the extractor "
                        "is asked about; the first run is the reference)")
    p.add_argument("--check-dialogs", type=int, default=0,
                   help="seeded ESConv dialogs whose cached proposals the check alone judges, timed (0 = skip)")
    p.add_argument("--cache", help="inference cache for --check-dialogs (filled by a build with --cache-dir)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--device", default="cpu", help="where --backends run (cuda: torch only)")
    p.add_argument("--work", help="folder for the replicated inputs and builds (default: a temporary folder)")
    p.add_argument("--json", help="write the measurements here")
    args = p.parse_args(argv)
    if any(k < 1 for k in args.sizes) or min(args.model_dialogs, args.backend_dialogs, args.check_dialogs) < 0:
        raise InputError("--sizes must be positive, --model-dialogs, --backend-dialogs and --check-dialogs at least 0")
    if args.check_dialogs and not args.cache:
        raise InputError("--check-dialogs needs --cache (an inference cache that holds those dialogs' proposals)")
    source = Path(args.input)
    with tempfile.TemporaryDirectory(prefix="pesconv-bench-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        record = {"scale": scale(sorted(args.sizes), source, work) if args.sizes else [],
                  "overhead": overhead(args.model_dialogs, args.batch_size, source, work) if args.model_dialogs else None,
                  "backends": (compare_backends(args.backend_dialogs, args.batch_size, source, args.backends,
                                                device=args.device, asks=args.ask) if args.backend_dialogs else None),
                  "check": (check_stage(args.check_dialogs, source, args.cache, device=args.device)
                            if args.check_dialogs else None)}
    if record["scale"]:
        print("\n| size | dialogs | wall s | dialogs/s | s per dialog vs 1x | peak MB | memory vs 1x |\n"
              "|---|---:|---:|---:|---:|---:|---:|")
    for r in record["scale"]:
        print(f"| {r['size']} | {r['dialogs']} | {r['wall_s']} | {r['dialogs_per_s']} | {r['seconds_per_dialog_vs_1x']} "
              f"| {r['peak_rss_mb']} | {r['memory_vs_1x']} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    run_cli(main)
