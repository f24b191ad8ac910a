"""The static viewer (analysis.browse): pages for every dialog, evidence links, escaping, and a real browser."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.browse import main, write_site
from schemas.pesconv import PESCONV_SCHEMA

HOSTILE = '<script>document.title="pwned"</script> "quoted" <b>bold</b> & done'


def rows_of(build: Path) -> list[dict]:
    return [r for f in sorted((build / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def hostile_build(tiny_build, tmp_path_factory) -> Path:
    """The tiny build with untrusted text in a seeker turn, a persona sentence and the situation."""
    rows = rows_of(tiny_build)
    row = rows[0]
    k = next(i for i, t in enumerate(row["dialog"]) if t["speaker"] == "seeker" and t["persona"])
    row["dialog"][1]["text"] = HOSTILE
    row["dialog"][k]["persona"] = [HOSTILE, *row["dialog"][k]["persona"][1:]]
    row["situation"] = HOSTILE
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=PESCONV_SCHEMA), folder / "data" / "test-00000-of-00001.parquet")
    return folder


def test_site_has_every_dialog_and_evidence_links(tiny_build, tmp_path):
    out = tmp_path / "site"
    assert main(["--data", str(tiny_build), "--output", str(out)]) == 0
    rows = rows_of(tiny_build)
    assert len(list((out / "dialogs").glob("*.html"))) == len(rows)
    for split in {r["split"] for r in rows}:
        text = (out / f"index-{split}.js").read_text()
        index = json.loads(text.split("] = ", 1)[1].rstrip().rstrip(";"))
        assert sorted(r["id"] for r in index) == sorted(r["dialog_id"] for r in rows if r["split"] == split)
    linked = 0
    for r in rows:
        page = (out / "dialogs" / f"{r['dialog_id']}.html").read_text()
        assert 'href="../index.html"' in page and "adapter" in page  # back link, provenance footer
        for target in map(int, re.findall(r'href="#t(\d+)"', page)):  # every link points at a seeker turn
            assert r["dialog"][target]["speaker"] == "seeker" and f'id="t{target}"' in page
            linked += 1
        for t in r["dialog"]:  # each sentence's title says how likely it reads alone
            for p in t["persona_standalone"] if t["persona_inferred"] else []:
                assert f"; reads alone: {p:.2f}" in page
    assert linked > 0


def test_untrusted_text_is_shown_as_text(hostile_build, tmp_path):
    write_site(str(hostile_build), tmp_path / "site")
    for path in [*(tmp_path / "site" / "dialogs").glob("*.html"), tmp_path / "site" / "index-test.js"]:
        text = path.read_text()
        assert "<script>document" not in text and "<b>bold" not in text
    page = next(p.read_text() for p in (tmp_path / "site" / "dialogs").glob("*.html") if "pwned" in p.read_text())
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt; &quot;quoted&quot; &lt;b&gt;bold" in page


def test_sample_and_bad_input(tiny_build, tmp_path, capsys):
    write_site(str(tiny_build), tmp_path / "s", sample=2)
    assert len(list((tmp_path / "s" / "dialogs").glob("*.html"))) == 2
    from common.cli import run_cli

    with pytest.raises(SystemExit) as stop:
        run_cli(main, ["--data", str(tmp_path / "nowhere")])
    assert stop.value.code == 2 and capsys.readouterr().err.startswith("error: ")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str) -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (.ci/run installs Debian's chromium)")
def test_pages_render_in_headless_chromium(hostile_build, tmp_path):
    out = tmp_path / "site"
    write_site(str(hostile_build), out)
    index = dump_dom((out / "index.html").as_uri())
    first = next(s for s in ("train", "valid", "test") if any(r["split"] == s for r in rows_of(hostile_build)))
    shown = sum(r["split"] == first for r in rows_of(hostile_build))
    assert index.count('href="dialogs/') == shown > 0  # the script loaded the first split's rows and drew them
    page = next(p for p in (out / "dialogs").glob("*.html") if "pwned" in p.read_text())
    dom = dump_dom(page.as_uri())
    assert '<div class="conv">' in dom and 'class="panel"' in dom and 'class="turn"' in dom
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)  # the hostile script never ran
    assert "&lt;script&gt;" in dom
