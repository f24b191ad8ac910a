"""Publish a finished PESConv build to the Hugging Face Hub, with a dataset card made from its manifest.

    python -m pipelines.publish --data outputs/pesconv --repo-id USER/pesconv [--private] [--revision BRANCH]
    python -m pipelines.publish --data outputs/pesconv --dry-run outputs/hub_repo   # write the folder only

The build is checked first (manifest present, every shard present with the manifest's sha256 and
row count, counts consistent, shard schema = PESCONV_SCHEMA). The repository folder is then staged:
`README.md` (the dataset card, see pipelines/dataset_card.py), `data/{split}-0000i-of-0000n.parquet`,
`figures/*.png` (analysis figures, if any) and `manifest.json` (provenance). `--dry-run DIR` writes
exactly that folder; otherwise it is uploaded with `HfApi.upload_folder` in one commit. The token
comes from `HF_TOKEN` or the standard `hf auth login`; it is never printed or written.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common.cli import InputError, command_parser, quiet_libraries, run_cli
from pipelines.dataset_card import ordered_splits

log = logging.getLogger("pesconv")
DEFAULT_FIGURES = Path("outputs/analysis")
REPO_ENTRIES = {"README.md", "data", "figures", "manifest.json"}  # what a staged repository folder holds


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m pipelines.publish", __doc__)
    p.add_argument("--data", default="outputs/pesconv",
                   help="the finished build folder (manifest.json, data/*.parquet) to publish")
    p.add_argument("--repo-id", help="Hub dataset repository, USER/NAME or ORG/NAME; created if it does not exist "
                                     "(required unless --dry-run)")
    p.add_argument("--private", action="store_true",
                   help="make the repository private (new repositories are created private; an existing one is "
                        "switched to private)")
    p.add_argument("--revision", default=None,
                   help="branch to commit to (created from main if missing); default: the main branch")
    p.add_argument("--commit-message", default=None,
                   help="commit message; default: one line with the dialog count, code version and extractor")
    p.add_argument("--figures", default=None,
                   help=f"folder of analysis figures (python -m analysis.persona_similarity); its PNG files are "
                        f"uploaded under figures/ and shown in the card. Default: {DEFAULT_FIGURES} if it exists; "
                        f"'none' to leave figures out")
    p.add_argument("--dry-run", metavar="DIR", default=None,
                   help="write exactly the folder that would be uploaded to DIR (replacing an earlier dry run "
                        "there) and upload nothing; needs no token")
    return p


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_repo_id(repo_id: str | None) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not repo_id:
        raise InputError("--repo-id USER/NAME is required to upload (or use --dry-run DIR)")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise InputError(f"invalid --repo-id {repo_id!r}: use USER/NAME with letters, digits, '-', '_', '.' "
                         "(at most 96 characters, no '--' or '..')") from None
    if repo_id.count("/") != 1:
        raise InputError(f"invalid --repo-id {repo_id!r}: use USER/NAME (a namespace and a name)")
    return repo_id


def load_finished_build(folder: Path) -> dict[str, Any]:
    """The manifest of a finished, intact build; InputError (one line) for anything else."""
    import pyarrow.parquet as pq

    from schemas.pesconv import PESCONV_SCHEMA

    if not folder.is_dir():
        raise InputError(f"build folder {folder} does not exist")
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise InputError(f"{folder} is not a finished build: no manifest.json (run python -m pipelines.build_pesconv)")
    if (folder / ".partial").exists():
        raise InputError(f"{folder} has a .partial folder: a build is running or was interrupted; finish it first")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        counts, shards = manifest["counts"], manifest["shards"]
        splits = {str(k): int(v) for k, v in counts["splits"].items()}
        read, written, rejected = int(counts["read"]), int(counts["written"]), int(counts["rejected"])
        shard_list = [(str(rel), str(s["split"]), int(s["rows"]), str(s["sha256"])) for rel, s in shards.items()]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{mpath} is not a valid build manifest ({type(exc).__name__}: {exc})") from None
    if not shard_list or written == 0:
        raise InputError(f"{folder} is not a finished build: the manifest lists no shards / rows")
    if written + rejected != read:
        raise InputError(f"{folder}: manifest counts don't match: written {written} + rejected {rejected} != read {read}")
    if sum(splits.values()) != written:
        raise InputError(f"{folder}: manifest counts don't match: split sizes {splits} do not sum to written {written}")
    per_split: dict[str, int] = {}
    for rel, split, rows, sha in shard_list:
        path = folder / rel
        if not rel.startswith("data/") or not rel.endswith(".parquet") or Path(rel).name.split("-")[0] != split:
            raise InputError(f"{mpath}: shard {rel!r} is not data/{split}-*.parquet")
        if not path.is_file():
            raise InputError(f"{folder} is missing shard {rel} listed in the manifest")
        if sha256_file(path) != sha:
            raise InputError(f"shard {rel} does not match the manifest's sha256 (changed after the build?)")
        try:
            meta = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for unreadable files
            raise InputError(f"shard {rel} is not readable Parquet ({exc})") from None
        if meta.metadata.num_rows != rows:
            raise InputError(f"shard {rel} has {meta.metadata.num_rows} rows, the manifest says {rows}")
        if not meta.schema_arrow.remove_metadata().equals(PESCONV_SCHEMA.remove_metadata()):
            raise InputError(f"shard {rel} does not have the PESConv schema (schemas/pesconv.py)")
        per_split[split] = per_split.get(split, 0) + rows
    if per_split != splits:
        raise InputError(f"{folder}: manifest counts don't match: shard rows per split {per_split} != {splits}")
    listed = {rel for rel, *_ in shard_list}
    extra = sorted(p.relative_to(folder).as_posix() for p in (folder / "data").glob("*.parquet")
                   if p.relative_to(folder).as_posix() not in listed)
    if extra:
        raise InputError(f"{folder}: shard {extra[0]} is not in the manifest (left over from another build?)")
    return manifest


def find_figures(arg: str | None) -> tuple[Path | None, list[Path]]:
    """(folder, PNG files) from --figures; the default folder is optional, an explicit one must exist."""
    if arg is not None and arg.lower() == "none":
        return None, []
    folder = Path(arg) if arg else DEFAULT_FIGURES
    if not folder.is_dir():
        if arg:
            raise InputError(f"--figures folder {folder} does not exist")
        return None, []
    return folder, sorted(folder.rglob("*.png"))


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def stage_repo(build: Path, manifest: dict, figures: tuple[Path | None, list[Path]], repo_id: str | None,
               target: Path) -> Any:
    """Write the repository folder into `target` (must be empty); returns the validated card."""
    from pipelines.dataset_card import build_card, public_manifest, validate_card

    manifest = public_manifest(manifest)  # no local path of the builder's machine is published
    for rel in sorted(manifest["shards"]):
        _copy(build / rel, target / rel)
    fig_dir, pngs = figures
    fig_paths = []
    for png in pngs:
        rel = "figures/" + png.relative_to(fig_dir).as_posix()
        _copy(png, target / rel)
        fig_paths.append(rel)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    card = build_card(target, manifest, fig_paths, repo_id)
    card.save(target / "README.md")
    return validate_card((target / "README.md").read_text(encoding="utf-8"), manifest, target)


def write_dry_run(build: Path, manifest: dict, figures, repo_id: str | None, out: Path) -> Any:
    """Stage into `out` (replacing an earlier dry run there, refusing to touch any other folder)."""
    out_abs, build_abs = out.resolve(), build.resolve()
    if out_abs == build_abs or build_abs in out_abs.parents or out_abs in build_abs.parents:
        raise InputError(f"--dry-run folder {out} must be outside the build folder {build}")
    if out.exists():
        if not out.is_dir():
            raise InputError(f"--dry-run {out} exists and is not a folder")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in REPO_ENTRIES)
        if foreign:
            raise InputError(f"--dry-run folder {out} holds other files ({foreign[0]}, ...); give an empty or new folder")
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        card = stage_repo(build, manifest, figures, repo_id, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return card


def hub_token() -> str:
    from huggingface_hub import get_token

    try:
        token = get_token()
    except Exception as exc:  # noqa: BLE001 - OIDC exchange failures etc.: one line, no token in it
        raise InputError(f"could not get a Hugging Face token ({type(exc).__name__})") from None
    if not token:
        raise InputError("no Hugging Face token: run `hf auth login` or set HF_TOKEN (or use --dry-run DIR)")
    return token


def upload(staged: Path, card: Any, args: argparse.Namespace, token: str, message: str) -> str:
    """Create/update the dataset repository and push the staged folder in one commit; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        card.validate(repo_type="dataset")  # the Hub's own YAML validation (online)
        url = api.create_repo(args.repo_id, repo_type="dataset", private=True if args.private else None,
                              exist_ok=True)
        if args.private:
            api.update_repo_settings(args.repo_id, repo_type="dataset", private=True)
        if args.revision and args.revision != "main":
            api.create_branch(args.repo_id, repo_type="dataset", branch=args.revision, exist_ok=True)
        info = api.upload_folder(repo_id=args.repo_id, repo_type="dataset", folder_path=str(staged),
                                 revision=args.revision, commit_message=message,
                                 delete_patterns=["data/*.parquet", "figures/**"])
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - HTTP/network/validation errors become one line
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0].replace(token, "***")
        raise InputError(f"upload to {args.repo_id} failed: {text}") from None
    return str(getattr(info, "commit_url", None) or url)


def default_message(manifest: dict) -> str:
    ex = manifest.get("extractor", {})
    return (f"Upload PESConv: {manifest['counts']['written']} dialogs "
            f"({', '.join(f'{k} {v}' for k, v in sorted(manifest['counts']['splits'].items()))}), "
            f"built by {manifest.get('code_version', 'unknown code')} with extractor {ex.get('model', 'unknown')}")


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = build_parser().parse_args(argv)
    started = time.time()
    if args.dry_run is None or args.repo_id is not None:
        check_repo_id(args.repo_id)
    build = Path(args.data)
    manifest = load_finished_build(build)
    figures = find_figures(args.figures)
    token = None if args.dry_run else hub_token()
    message = args.commit_message or default_message(manifest)
    counts = manifest["counts"]
    split_text = ", ".join(f"{k} {counts['splits'][k]}" for k in ordered_splits(counts["splits"]))
    n_fig = len(figures[1])
    if args.dry_run:
        out = Path(args.dry_run)
        write_dry_run(build, manifest, figures, args.repo_id, out)
        log.info(f"Dry run done in {time.time() - started:.1f}s: checked {build} ({len(manifest['shards'])} shards, "
                 f"sha256 and row counts match the manifest) and wrote the repository folder {out}: README.md "
                 f"(dataset card, validated), {len(manifest['shards'])} Parquet shards with {counts['written']} "
                 f"dialogs ({split_text}), {n_fig} figure(s) and manifest.json. Nothing was uploaded. Check it with "
                 f"datasets.load_dataset('{out}'); upload with --repo-id USER/NAME instead of --dry-run.")
        return 0
    with tempfile.TemporaryDirectory(prefix="pesconv-publish-") as tmp:
        staged = Path(tmp) / "repo"
        staged.mkdir()
        card = stage_repo(build, manifest, figures, args.repo_id, staged)
        where = f"{args.repo_id}" + (f" (branch {args.revision})" if args.revision else "")
        log.info(f"Uploading {counts['written']} dialogs ({split_text}), the dataset card and {n_fig} figure(s) "
                 f"to https://huggingface.co/datasets/{where} ...")
        commit_url = upload(staged, card, args, token, message)
    log.info(f"Published in {time.time() - started:.1f}s: {len(manifest['shards'])} Parquet shards with "
             f"{counts['written']} dialogs ({split_text}), README.md (dataset card), {n_fig} figure(s) and "
             f"manifest.json to the {'private ' if args.private else ''}dataset {where} ({commit_url}), commit "
             f"message {message!r}. Load it with datasets.load_dataset('{args.repo_id}'"
             + (f", revision='{args.revision}'" if args.revision else "") + ").")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
