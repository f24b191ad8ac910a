"""A static PESConv viewer: read the dialogs, see where the seeker said each persona sentence.

    python -m analysis.browse --data outputs/pesconv [--output outputs/browse] [--split test] [--sample 50]
    python -m analysis.browse --data USER/pesconv            # a Hub dataset id

Writes a self-contained site that opens from disk (no server, no network requests):
- `index.html`: every dialog with its split, emotion, problem, survey scores and number of persona
  sentences; filter by split and search by text, 50 per page. The rows live in one small script per
  split (`index-SPLIT.js`), loaded only when that split is shown, so a large build stays quick.
- `dialogs/ID.html`: the conversation as chat bubbles (strategy tags on supporter turns) beside the
  persona visible at each seeker turn; every persona sentence links to the seeker turn it came from
  (`persona_evidence`), which is highlighted when followed; the stretch of that turn it rests on (`persona_span`) is marked. The footer has the build's provenance.

Dialog text is untrusted: it is HTML-escaped in the pages and set as text (never as HTML) by the script.
"""
from __future__ import annotations

import html
import json
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

from analysis.panels import intensity_decrease, survey
from analysis.similarity_io import load_dialogs
from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

PAGE_SIZE = 50
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
mark{background:#fff1a8;padding:0 1px;border-radius:2px}
header,footer{padding:12px 24px;background:#fff;border-bottom:1px solid #dde1e7}
footer{border-top:1px solid #dde1e7;border-bottom:none;font-size:12px;color:#555;margin-top:24px}
main{padding:16px 24px;max-width:1200px}
a{color:#1f5fa8}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e4e7ec;padding:6px 8px;text-align:left;font-size:14px;vertical-align:top}
.controls{display:flex;gap:12px;align-items:center;margin:8px 0 12px}
.conv{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:8px 20px}
.turn{padding:8px 12px;border-radius:12px;max-width:85%;white-space:pre-wrap;scroll-margin-top:80px}
.seeker .turn{background:#e3edf9;justify-self:start}
.supporter .turn{background:#fff;border:1px solid #dde1e7;margin-left:15%}
.who{font-size:11px;color:#667;margin-bottom:2px}
.tag{display:inline-block;font-size:11px;background:#eef0f3;border-radius:8px;padding:1px 6px;margin-left:6px}
.turn:target{outline:3px solid #f0a500;background:#fff4d6}
.panel{font-size:13px;border-left:3px solid #c8d3e2;padding:2px 10px;align-self:start}
.panel ul{margin:2px 0 6px;padding-left:18px}
.new{font-weight:600}
.empty{color:#888}
.pager button{margin:0 4px}
"""
INDEX_JS = """
const PAGE = %(page)d;
window.PESCONV_INDEX = window.PESCONV_INDEX || {};
let split = %(first)s, page = 0;
function load(name, done) {
  if (window.PESCONV_INDEX[name]) { done(); return; }
  const s = document.createElement("script");
  s.src = "index-" + name + ".js";
  s.onload = done;
  document.head.appendChild(s);
}
function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }
function render() {
  const rows = window.PESCONV_INDEX[split] || [];
  const q = document.getElementById("q").value.toLowerCase();
  const shown = q ? rows.filter(r => r.search.includes(q)) : rows;
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  page = Math.min(page, pages - 1);
  const body = document.getElementById("rows");
  body.replaceChildren();
  for (const r of shown.slice(page * PAGE, (page + 1) * PAGE)) {
    const tr = document.createElement("tr");
    const a = document.createElement("a");
    a.href = "dialogs/" + r.id + ".html"; a.textContent = r.id;
    cell(tr, "").appendChild(a);
    for (const v of [r.split, r.emotion, r.problem, r.empathy, r.relevance, r.relief, r.persona, r.situation]) cell(tr, v);
    body.appendChild(tr);
  }
  document.getElementById("count").textContent = shown.length + " dialogs, page " + (page + 1) + " of " + pages;
}
function show(name) { split = name; page = 0; load(name, render); }
document.getElementById("split").addEventListener("change", e => show(e.target.value));
document.getElementById("q").addEventListener("input", () => { page = 0; render(); });
document.getElementById("prev").addEventListener("click", () => { page = Math.max(0, page - 1); render(); });
document.getElementById("next").addEventListener("click", () => { page += 1; render(); });
show(split);
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def safe_name(dialog_id: str) -> str:
    """A file name from a dialog id (ids are content hashes, but a Hub dataset could hold anything)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(dialog_id))[:120] or "dialog"


def js_data(value: Any) -> str:
    """JSON for a <script> file: '<' escaped, so no text can close a script element."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def index_row(row: dict) -> dict[str, Any]:
    s, relief = survey(row), intensity_decrease(row)
    persona = list(row.get("persona") or [])
    text = " ".join([str(row.get(k) or "") for k in ("dialog_id", "emotion_type", "problem_type", "situation")]
                    + persona).lower()
    return {"id": safe_name(row["dialog_id"]), "split": row.get("split") or "", "emotion": row.get("emotion_type") or "",
            "problem": row.get("problem_type") or "", "empathy": "" if s.get("empathy") is None else s["empathy"],
            "relevance": "" if s.get("relevance") is None else s["relevance"], "relief": "" if relief is None else relief,
            "persona": len(persona), "situation": (row.get("situation") or "")[:160], "search": text}


def persona_panel(turn: dict, previous: set[str]) -> str:
    """The persona visible at a seeker turn; sentences new at this turn in bold, each linked to its evidence."""
    persona = list(turn.get("persona") or [])
    evidence = list(turn.get("persona_evidence") or [])
    alone = list(turn.get("persona_standalone") or [])
    if not persona:
        return '<div class="panel empty">no persona yet</div>'
    items = []
    for k, sentence in enumerate(persona):
        cls = ' class="new"' if sentence not in previous else ""
        target = evidence[k] if k < len(evidence) else None
        reads = f"; reads alone: {alone[k]:.2f}" if k < len(alone) and alone[k] is not None else ""
        link = (f'<a href="#t{int(target)}" title="stated in turn {int(target)}{reads}">{esc(sentence)}</a>'
                if isinstance(target, int) else esc(sentence))
        items.append(f"<li{cls}>{link}</li>")
    return '<div class="panel"><div class="who">persona visible here</div><ul>' + "".join(items) + "</ul></div>"


def marked(text: str, spans: list[tuple[int, int]]) -> str:
    """The turn's text, escaped, with the stretches persona sentences rest on (`persona_span`) in <mark>."""
    out, at = [], 0
    for start, end in sorted((a, b) for a, b in spans if 0 <= a < b <= len(text)):
        start = max(start, at)
        if start >= end:
            continue
        out += [esc(text[at:start]), f"<mark>{esc(text[start:end])}</mark>"]
        at = end
    return "".join(out) + esc(text[at:])


def evidence_spans(row: dict) -> dict[int, list[tuple[int, int]]]:
    """Turn index -> the spans of its text that the whole-dialog persona sentences rest on."""
    found: dict[int, list[tuple[int, int]]] = {}
    for turn, span in zip(row.get("persona_evidence") or [], row.get("persona_span") or []):
        if span and span[0] >= 0:
            found.setdefault(int(turn), []).append((int(span[0]), int(span[1])))
    return found


def dialog_page(row: dict, footer: str) -> str:
    s = survey(row)
    cells, previous = [], set()
    spans = evidence_spans(row)
    for i, turn in enumerate(row.get("dialog") or []):
        who = turn.get("speaker") or ""
        tag = f'<span class="tag">{esc(turn["strategy"])}</span>' if turn.get("strategy") else ""
        bubble = (f'<div class="{esc(who)}"><div class="who">{i}. {esc(who)}{tag}</div>'
                  f'<div class="turn" id="t{i}">{marked(turn.get("text") or "", spans.get(i, []))}</div></div>')
        panel = persona_panel(turn, previous) if who == "seeker" and turn.get("persona_inferred") else "<div></div>"
        if who == "seeker":
            previous = set(turn.get("persona") or []) | previous
        cells.append(bubble + panel)
    whole = list(row.get("persona") or [])
    evidence = list(row.get("persona_evidence") or [])
    whole_items = "".join(
        f'<li><a href="#t{int(evidence[k])}">{esc(p)}</a></li>' if k < len(evidence) else f"<li>{esc(p)}</li>"
        for k, p in enumerate(whole)) or '<li class="empty">none</li>'
    meta = " · ".join(f"{name}: {esc(value)}" for name, value in (
        ("split", row.get("split")), ("emotion", row.get("emotion_type")), ("problem", row.get("problem_type")),
        ("empathy", s.get("empathy")), ("relevance", s.get("relevance")), ("relief", intensity_decrease(row))))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(row["dialog_id"])}</title>'
            f'<link rel="stylesheet" href="../style.css"></head><body><header><a href="../index.html">all dialogs</a>'
            f' · <b>{esc(row["dialog_id"])}</b><div>{meta}</div><div><i>{esc(row.get("situation"))}</i></div></header>'
            f'<main><h3>Whole-dialog persona</h3><ul class="whole">{whole_items}</ul><h3>Conversation</h3>'
            f'<div class="conv">{"".join(cells)}</div></main><footer>{footer}</footer></body></html>')


def provenance(data: str) -> str:
    """The footer: what built these personas (from the build's manifest.json when the data is a folder)."""
    path = Path(data) / "manifest.json"
    if not path.is_file():
        return f"Source: {esc(data)} (no manifest.json: provenance unknown)."
    m = json.loads(path.read_text(encoding="utf-8"))
    ex = m.get("extractor", {})
    return (f"Source: {esc(data)}. Extractor: {esc(ex.get('model'))}; adapter: {esc(ex.get('adapter'))} "
            f"(sha256 {esc(ex.get('adapter_sha256'))}); fingerprint {esc(ex.get('fingerprint'))}. "
            f"Build code version {esc(m.get('code_version'))}, created {esc(m.get('created'))}.")


def write_site(data: str, out: Path, splits: list[str] | None = None, sample: int | None = None,
               seed: int = 13) -> dict[str, int]:
    """Write the site for the dialogs of `data`; returns dialogs per split."""
    rows = load_dialogs(data, splits)
    if sample is not None:
        rows = random.Random(seed).sample(rows, min(sample, len(rows)))
    footer = provenance(data) + f" Viewer: analysis.browse, code {esc(code_version())}."
    if out.exists():
        shutil.rmtree(out)
    (out / "dialogs").mkdir(parents=True)
    (out / "style.css").write_text(CSS, encoding="utf-8")
    by_split: dict[str, list[dict]] = {}
    for row in rows:
        by_split.setdefault(row.get("split") or "all", []).append(index_row(row))
        (out / "dialogs" / f"{safe_name(row['dialog_id'])}.html").write_text(dialog_page(row, footer),
                                                                              encoding="utf-8")
    order = [s for s in ("train", "valid", "test") if s in by_split] + sorted(set(by_split) - {"train", "valid", "test"})
    for name in order:
        (out / f"index-{safe_name(name)}.js").write_text(
            f"window.PESCONV_INDEX = window.PESCONV_INDEX || {{}};\nwindow.PESCONV_INDEX[{js_data(safe_name(name))}] = "
            f"{js_data(by_split[name])};\n", encoding="utf-8")
    options = "".join(f'<option value="{esc(safe_name(s))}">{esc(s)} ({len(by_split[s])})</option>' for s in order)
    heads = "".join(f"<th>{h}</th>" for h in ("dialog", "split", "emotion", "problem", "empathy", "relevance",
                                                "relief", "persona sentences", "situation"))
    (out / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>PESConv viewer</title>'
        '<link rel="stylesheet" href="style.css"></head><body><header><b>PESConv viewer</b> · '
        f'{len(rows)} dialogs</header><main><div class="controls"><label>split <select id="split">{options}'
        '</select></label><input id="q" type="search" placeholder="search text" size="40">'
        '<span class="pager"><button id="prev">previous</button><button id="next">next</button></span>'
        f'<span id="count"></span></div><table><thead><tr>{heads}</tr></thead><tbody id="rows"></tbody></table>'
        f'</main><footer>{footer}</footer><script>{INDEX_JS % {"page": PAGE_SIZE, "first": js_data(safe_name(order[0]))}}'
        '</script></body></html>', encoding="utf-8")
    return {name: len(by_split[name]) for name in order}


def build_parser():
    p = command_parser("python -m analysis.browse", __doc__)
    p.add_argument("--data", required=True, help="a PESConv build folder, a .parquet shard or a Hub dataset id")
    p.add_argument("--output", default="outputs/browse", help="folder for the site (replaced)")
    p.add_argument("--split", action="append", help="only this split (repeatable; default: all)")
    p.add_argument("--sample", type=int, help="a seeded random sample of N dialogs")
    p.add_argument("--seed", type=int, default=13, help="seed of --sample")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    if args.sample is not None and args.sample < 1:
        raise InputError("--sample must be at least 1")
    started = time.time()
    out = Path(args.output)
    counts = write_site(args.data, out, args.split, args.sample, args.seed)
    print(f"wrote {sum(counts.values())} dialog pages (" + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f") and {out / 'index.html'} in {time.time() - started:.1f} s; open it in a browser (no server needed)")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
