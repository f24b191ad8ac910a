# Table 3, decoder-only rows: evaluation on the CPU of the GPU run's generations (benchmarks/gpu_table3.sh, FAMILY=decoder)
D=${D:-outputs/gpu_table3_dec}
# The GPU run stopped five decodings at its time limit; their finished rows (longest input first) are in
# *.jsonl.partial. Each becomes NAME-partial.jsonl with a meta.json beside it (the complete run's, with this run's
# settings and row count) so that analysis.evaluate reads it; paired differences use the turns both runs decoded.
python - "$D" <<'PY'
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
base = json.loads((d / "pal/generations-test-alpha0-seed2.meta.json").read_text())
for part in sorted(d.glob("*/*.jsonl.partial")):
    lines = part.read_text().splitlines()
    run, rows = json.loads(lines[0])["_run"], []
    for line in lines[1:]:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # the line being written when the run stopped
            pass
    out = part.with_name(part.name.replace(".jsonl.partial", "-partial.jsonl"))
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = {**base, "variant": run["variant"], "alpha": run["alpha"], "seed": run["seed"], "decoded": len(rows),
            "scored": len(rows), "seconds": None,
            "stopped": "at the GPU run's time limit: the rows are the first decoded, longest input first"}
    out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
PY
J="decoder-only, no persona (Joint)"; P="decoder-only, persona in prompt"; E="decoder-only, persona in prompt + Eq. 6"
python -m analysis.evaluate \
  "$J (seed 0)=$D/joint/generations-test-seed0.jsonl" "$J (seed 1)=$D/joint/generations-test-seed1.jsonl" \
  "$J (seed 2)=$D/joint/generations-test-seed2.jsonl" \
  "$P (seed 0)=$D/pal/generations-test-alpha0-seed0-partial.jsonl" \
  "$P (seed 1)=$D/pal/generations-test-alpha0-seed1-partial.jsonl" \
  "$P (seed 2)=$D/pal/generations-test-alpha0-seed2.jsonl" \
  "$E (seed 0)=$D/pal/generations-test-seed0-partial.jsonl" "$E (seed 1)=$D/pal/generations-test-seed1-partial.jsonl" \
  "$E (seed 2)=$D/pal/generations-test-seed2-partial.jsonl" \
  --compare "$E (seed 0)" "$P (seed 0)" --compare "$E (seed 0)" "$J (seed 0)" --compare "$P (seed 0)" "$J (seed 0)" \
  --compare "$E (seed 1)" "$P (seed 1)" --compare "$E (seed 1)" "$J (seed 1)" --compare "$P (seed 1)" "$J (seed 1)" \
  --compare "$E (seed 2)" "$P (seed 2)" --compare "$E (seed 2)" "$J (seed 2)" --compare "$P (seed 2)" "$J (seed 2)" \
  --output outputs/table3-decoder/table3
