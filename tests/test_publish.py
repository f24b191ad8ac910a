"""python -m pipelines.publish: dry-run folder, dataset card, refusals, and the upload path up to HfApi."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from common.cli import run_cli
from pipelines import publish
from pipelines.dataset_card import FIELD_DESCRIPTIONS, LICENSE, public_manifest, schema_field_paths, validate_card

REPO = Path(__file__).resolve().parent.parent
SECRET = "hf_TESTsecretTOKENdoNotLeak0123456789"


def tiny_png(path: Path) -> Path:
    """A valid 1x1 PNG (enough for the card and the upload; no plotting library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
    return path


def copy_build(tiny_build: Path, dest: Path) -> Path:
    return Path(shutil.copytree(tiny_build, dest, ignore=shutil.ignore_patterns("cache")))


def manifest_of(build: Path) -> dict:
    return json.loads((build / "manifest.json").read_text(encoding="utf-8"))


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    """main() through run_cli, as the command runs: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        run_cli(publish.main, argv)
    return exc.value.code, capsys.readouterr().err


def all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def dry_run(tiny_build, tmp_path_factory) -> Path:
    figs = tmp_path_factory.mktemp("analysis")
    tiny_png(figs / "persona_similarity_minilm.png")
    tiny_png(figs / "fasttext" / "persona_similarity_fasttext.png")
    (figs / "persona_similarity_minilm.svg").write_text("<svg/>")
    out = tmp_path_factory.mktemp("dry") / "repo"
    assert publish.main(["--data", str(tiny_build), "--repo-id", "someone/pesconv-test", "--figures", str(figs),
                         "--dry-run", str(out)]) == 0
    return out


def test_dry_run_folder_is_the_repo_layout(dry_run, tiny_build):
    manifest = manifest_of(tiny_build)
    files = sorted(p.relative_to(dry_run).as_posix() for p in dry_run.rglob("*") if p.is_file())
    assert files == sorted(["README.md", "manifest.json", *manifest["shards"],
                            "figures/persona_similarity_minilm.png", "figures/fasttext/persona_similarity_fasttext.png"])
    for rel, shard in manifest["shards"].items():
        assert publish.sha256_file(dry_run / rel) == shard["sha256"]


def test_dry_run_loads_with_datasets(dry_run, tiny_build):
    import pyarrow.parquet as pq
    from datasets import load_dataset

    from schemas.pesconv import pesconv_features

    manifest = manifest_of(tiny_build)
    ds = load_dataset(str(dry_run))
    assert set(ds) == set(manifest["counts"]["splits"]) == {"train", "valid", "test"}
    for split, n in manifest["counts"]["splits"].items():
        assert ds[split].num_rows == n
        assert ds[split].features == pesconv_features()
        ids = [i for rel in sorted(manifest["shards"]) if manifest["shards"][rel]["split"] == split
               for i in pq.read_table(tiny_build / rel, columns=["dialog_id"]).column(0).to_pylist()]
        assert sorted(ds[split]["dialog_id"]) == sorted(ids)
        assert set(ds[split]["split"]) == {split}
    assert sum(d.num_rows for d in ds.values()) == manifest["counts"]["written"]


def test_card_metadata_validates(dry_run, tiny_build):
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard, metadata_load

    manifest = manifest_of(tiny_build)
    card = DatasetCard.load(dry_run / "README.md", ignore_metadata_errors=False)
    validate_card(str(card), manifest, dry_run)  # raises on any problem
    data = card.data
    assert data.license == LICENSE == "cc-by-nc-4.0"
    assert data.language == ["en"] and data.size_categories == ["n<1K"]
    assert "text-generation" in data.task_categories and "emotional-support" in data.tags
    assert data.configs == [{"config_name": "default", "data_files": [
        {"split": s, "path": f"data/{s}-*.parquet"} for s in ("train", "valid", "test")]}]
    info = DatasetInfosDict.from_dataset_card_data(data)["default"]
    assert {k: v.num_examples for k, v in info.splits.items()} == manifest["counts"]["splits"]
    assert metadata_load(dry_run / "README.md")["license"] == LICENSE


def test_card_body_is_generated_from_the_manifest(dry_run, tiny_build):
    manifest = manifest_of(tiny_build)
    text = (dry_run / "README.md").read_text(encoding="utf-8")
    for path, _ in schema_field_paths():
        assert f"| `{path}` |" in text, path
    assert set(FIELD_DESCRIPTIONS) == {p for p, _ in schema_field_paths()}
    public = public_manifest(manifest)  # as published: local paths reduced to file names
    ex = public["extractor"]
    for needle in (ex["model"], ex["fingerprint"], ex["weights_sha256"], manifest["code_version"],
                   public["command"], "Personas are model inferences about role-played seekers",
                   "must not replace professional help", "Towards Emotional Support Dialog Systems",
                   "PAL}: Persona-Augmented Emotional Support Conversation Generation", "Model substitution",
                   "Persona errors", 'load_dataset("someone/pesconv-test")',
                   "![persona_similarity_minilm](figures/persona_similarity_minilm.png)",
                   "(figures/fasttext/persona_similarity_fasttext.png)"):
        assert needle in text, needle
    assert ".svg" not in text  # PNGs only


def test_validate_card_rejects_a_card_that_disagrees_with_the_manifest(dry_run, tiny_build):
    from common.cli import InputError

    manifest = manifest_of(tiny_build)
    text = (dry_run / "README.md").read_text(encoding="utf-8")
    with pytest.raises(InputError, match="licence"):
        validate_card(text.replace("license: cc-by-nc-4.0", "license: mit"), manifest, dry_run)
    wrong = json.loads(json.dumps(manifest))
    wrong["counts"]["splits"]["train"] += 1
    with pytest.raises(InputError, match="split sizes"):
        validate_card(text, wrong, dry_run)
    with pytest.raises(InputError, match="does not parse"):
        validate_card(text.replace("license: cc-by-nc-4.0", "license: [unclosed"), manifest, dry_run)


def test_dry_run_replaces_an_earlier_dry_run_and_default_figures(tiny_build, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default --figures is outputs/analysis relative to the working folder
    out = tmp_path / "repo"
    assert publish.main(["--data", str(tiny_build), "--dry-run", str(out)]) == 0
    assert not (out / "figures").exists()
    assert 'load_dataset("USER/NAME")' in (out / "README.md").read_text(encoding="utf-8")
    tiny_png(tmp_path / "outputs" / "analysis" / "fig.png")
    assert publish.main(["--data", str(tiny_build), "--dry-run", str(out)]) == 0
    assert (out / "figures" / "fig.png").is_file()
    assert publish.main(["--data", str(tiny_build), "--dry-run", str(out), "--figures", "none"]) == 0
    assert not (out / "figures").exists()  # exactly what would be uploaded: no stale files
    assert not (tmp_path / "repo.staging").exists()


def _break(kind: str, build: Path) -> None:
    manifest = manifest_of(build)
    first = sorted(manifest["shards"])[0]
    if kind == "no manifest":
        (build / "manifest.json").unlink()
    elif kind == "missing shard":
        (build / first).unlink()
    elif kind == "changed shard":
        with open(build / first, "ab") as f:
            f.write(b"\0")
    elif kind == "counts":
        manifest["counts"]["read"] += 1
        (build / "manifest.json").write_text(json.dumps(manifest))
    elif kind == "rows":
        manifest["shards"][first]["rows"] += 1
        manifest["counts"]["splits"][manifest["shards"][first]["split"]] += 1
        manifest["counts"]["written"] += 1
        manifest["counts"]["read"] += 1
        (build / "manifest.json").write_text(json.dumps(manifest))
    elif kind == "extra shard":
        shutil.copy(build / first, build / "data" / "train-00009-of-00010.parquet")
    elif kind == "bad manifest":
        (build / "manifest.json").write_text("{not json")
    elif kind == "partial":
        (build / ".partial").mkdir()


@pytest.mark.parametrize("kind, message", [
    ("no manifest", "not a finished build: no manifest.json"),
    ("missing shard", "is missing shard data/"),
    ("changed shard", "does not match the manifest's sha256"),
    ("counts", "counts don't match: written"),
    ("rows", "rows, the manifest says"),
    ("extra shard", "is not in the manifest"),
    ("bad manifest", "is not a valid build manifest"),
    ("partial", "a build is running or was interrupted"),
])
def test_refuses_an_unfinished_or_changed_build(kind, message, tiny_build, tmp_path, capsys):
    build = copy_build(tiny_build, tmp_path / "build")
    _break(kind, build)
    code, err = run_main(["--data", str(build), "--dry-run", str(tmp_path / "repo")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not (tmp_path / "repo").exists()


@pytest.mark.parametrize("repo_id", ["not a repo id", "a/b/c", "user/bad--name", "user/" + "x" * 100, "nouser"])
def test_refuses_an_invalid_repo_id(repo_id, tiny_build, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    code, err = run_main(["--data", str(tiny_build), "--repo-id", repo_id], capsys)
    assert code == 2 and err.count("\n") == 1 and "invalid --repo-id" in err, err


def test_refuses_other_user_errors(tiny_build, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    cases = [
        (["--data", str(tmp_path / "nowhere"), "--repo-id", "u/n"], "does not exist"),
        (["--data", str(tiny_build)], "--repo-id USER/NAME is required"),
        (["--data", str(tiny_build), "--dry-run", str(tmp_path / "d"), "--figures", str(tmp_path / "nofig")],
         "--figures folder"),
        (["--data", str(tiny_build), "--dry-run", str(tiny_build / "repo")], "outside the build folder"),
    ]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    cases.append((["--data", str(tiny_build), "--dry-run", str(tmp_path / "busy")], "holds other files"))
    for argv, message in cases:
        code, err = run_main(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and message in err, (argv, err)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def _no_token_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "hf_home"), HF_HUB_OFFLINE="1")
    return env


def test_refuses_without_a_token_as_a_command(tiny_build, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pipelines.publish", "--data", str(tiny_build),
                           "--repo-id", "someone/pesconv"], cwd=REPO, env=_no_token_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: no Hugging Face token: run `hf auth login` or set HF_TOKEN (or use --dry-run DIR)"], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_help_explains_every_option():
    proc = subprocess.run([sys.executable, "-m", "pipelines.publish", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    for opt in ("--data", "--repo-id", "--private", "--revision", "--commit-message", "--figures", "--dry-run"):
        assert opt in proc.stdout
    assert "HF_TOKEN" in proc.stdout


class FakeHfApi:
    """Records the calls publish makes; what upload_folder sees is what the Hub would get."""

    calls: list = []
    fail_with: Exception | None = None

    def __init__(self, token=None, **kwargs):
        FakeHfApi.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kw):
        if FakeHfApi.fail_with:
            raise FakeHfApi.fail_with
        FakeHfApi.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        return f"https://huggingface.co/datasets/{repo_id}"

    def update_repo_settings(self, repo_id, **kw):
        FakeHfApi.calls.append(("update_repo_settings", {"repo_id": repo_id, **kw}))

    def create_branch(self, repo_id, **kw):
        FakeHfApi.calls.append(("create_branch", {"repo_id": repo_id, **kw}))

    def upload_folder(self, **kw):
        folder = Path(kw["folder_path"])
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        FakeHfApi.calls.append(("upload_folder", {**kw, "files": files}))

        class Info:
            commit_url = f"https://huggingface.co/datasets/{kw['repo_id']}/commit/abc"
        return Info()


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    FakeHfApi.calls = []
    FakeHfApi.fail_with = None
    validated = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setattr(huggingface_hub.DatasetCard, "validate", lambda self, repo_type=None: validated.append(repo_type))
    monkeypatch.setenv("HF_TOKEN", SECRET)
    return validated


def test_upload_path_creates_repo_and_uploads_the_dry_run_folder(fake_hub, dry_run, tiny_build, tmp_path, capsys,
                                                                  caplog):
    figs = tmp_path / "figs"
    tiny_png(figs / "persona_similarity_minilm.png")
    tiny_png(figs / "fasttext" / "persona_similarity_fasttext.png")
    argv = ["--data", str(tiny_build), "--repo-id", "someone/pesconv-test", "--private", "--revision", "v1",
            "--commit-message", "PESConv v1", "--figures", str(figs)]
    with caplog.at_level("INFO"):
        assert publish.main(argv) == 0
    calls = dict((name, kw) for name, kw in FakeHfApi.calls)
    assert fake_hub == ["dataset"]  # the Hub's online card validation runs before any upload
    assert calls["init"]["token"] == SECRET
    assert calls["create_repo"] == {"repo_id": "someone/pesconv-test", "repo_type": "dataset", "private": True,
                                    "exist_ok": True}
    assert calls["update_repo_settings"]["private"] is True
    assert calls["create_branch"] == {"repo_id": "someone/pesconv-test", "repo_type": "dataset", "branch": "v1",
                                      "exist_ok": True}
    up = calls["upload_folder"]
    assert (up["repo_id"], up["repo_type"], up["revision"], up["commit_message"]) == (
        "someone/pesconv-test", "dataset", "v1", "PESConv v1")
    expected = {p.relative_to(dry_run).as_posix(): p.read_bytes() for p in dry_run.rglob("*") if p.is_file()}
    assert up["files"] == expected  # the dry run wrote exactly what is uploaded
    out = capsys.readouterr()
    logged = out.out + out.err + caplog.text
    assert "Published" in logged and "someone/pesconv-test" in logged
    assert SECRET not in logged
    assert all(SECRET.encode() not in content for content in up["files"].values())


def test_upload_defaults_main_branch_public_and_generated_message(fake_hub, tiny_build):
    assert publish.main(["--data", str(tiny_build), "--repo-id", "someone/pesconv-test", "--figures", "none"]) == 0
    names = [name for name, _ in FakeHfApi.calls]
    assert "create_branch" not in names and "update_repo_settings" not in names
    up = dict(FakeHfApi.calls)["upload_folder"]
    assert up["revision"] is None and up["commit_message"].startswith("Upload PESConv: 7 dialogs")
    assert dict(FakeHfApi.calls)["create_repo"]["private"] is None


def test_upload_failure_is_one_line_without_the_token(fake_hub, tiny_build, capsys):
    FakeHfApi.fail_with = RuntimeError(f"401 Client Error: invalid token {SECRET}\nmore detail")
    code, err = run_main(["--data", str(tiny_build), "--repo-id", "someone/pesconv-test", "--figures", "none"], capsys)
    assert code == 2 and err.count("\n") == 1 and "upload to someone/pesconv-test failed: 401" in err
    assert SECRET not in err


def test_token_is_never_written_by_a_dry_run(tiny_build, tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    out = tmp_path / "repo"
    with caplog.at_level("INFO"):
        assert publish.main(["--data", str(tiny_build), "--repo-id", "someone/pesconv-test", "--figures", "none",
                             "--dry-run", str(out)]) == 0
    captured = capsys.readouterr()
    assert SECRET not in all_text(out) + captured.out + captured.err + caplog.text
    assert "Dry run done" in caplog.text


def test_size_categories_follow_the_hub_buckets():
    from pipelines.dataset_card import size_category

    assert [size_category(n) for n in (7, 999, 1000, 1300, 10 ** 5, 10 ** 13)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "100K<n<1M", "n>1T"]


def test_nothing_published_names_a_local_path(dry_run, tiny_build):
    """The card and the published manifest name inputs by file name and sha256; the command, the input folder and the
    extractor's files keep only their names: no absolute path of the builder's machine reaches the Hub."""
    import re

    local = [str(tiny_build.parent), str(Path.home()), sys.prefix, str(REPO)]
    manifest = json.loads((tiny_build / "manifest.json").read_text(encoding="utf-8"))
    assert any(p in json.dumps(manifest) for p in local)  # the build's own manifest does hold local paths
    for name in ("README.md", "manifest.json"):
        text = (dry_run / name).read_text(encoding="utf-8")
        assert not [p for p in local if p in text], name
        assert not re.search(r"(?<![\w:/<>])/(?:root|home|tmp|Users|work|private|var)/", text), name
    published = json.loads((dry_run / "manifest.json").read_text(encoding="utf-8"))
    assert [f["sha256"] for f in published["input"]["files"]] == [f["sha256"] for f in manifest["input"]["files"]]
    assert published["command"].split()[:3] == ["python", "-m", "pipelines.build_pesconv"]


def test_a_fact_style_card_says_what_its_personas_leave_to_the_dialog():
    from pipelines.dataset_card import limitations

    fact = " ".join(limitations({"settings": {"persona_style": "fact"}, "extractor": {"model": "m"}}))
    quote = " ".join(limitations({"settings": {"persona_style": "quote"}, "extractor": {"model": "m"}}))
    assert "need their dialog" in fact and "I got laid off" in fact
    assert "need their dialog" not in quote
    judged = " ".join(limitations({"settings": {"persona_style": "fact", "check": {"implied_judge": True}},
                                   "extractor": {"model": "m"}}))
    assert "need their dialog" in judged and "I got laid off" not in judged
