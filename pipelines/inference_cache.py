"""The resumable inference cache: JSON-lines parts keyed by (extractor fingerprint, input).

Beam-free on local paths, so evaluation and labelling (and a GPU worker that only fills the cache) run without
Beam; a remote path (gs://, s3://, ...) goes through Beam's FileSystems (`pipelines.files`). Every finished batch
becomes a new part, written whole under a temporary name: an interrupted run loses at most one batch.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Iterable

from extractor.formatting import ExtractionInput


def request_key(fingerprint: str, inp: ExtractionInput) -> str:
    """Cache key of one extraction: the model fingerprint plus the exact input (utterances and context)."""
    blob = json.dumps([fingerprint, list(inp.utterances), inp.context], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _remote(path: str) -> bool:
    return "://" in path


class InferenceCache:
    """JSON-lines parts under `root/<fingerprint>/`, each written whole by one worker."""

    def __init__(self, root: str, fingerprint: str):
        if _remote(str(root)):
            from pipelines import files

            self.folder = files.join(str(root), fingerprint)
        else:
            self.folder = str(Path(root) / fingerprint)

    def _parts(self) -> list[str]:
        if _remote(self.folder):
            from pipelines import files

            return files.list_files(files.join(self.folder, "part-*.jsonl"))
        return sorted(str(p) for p in Path(self.folder).glob("part-*.jsonl"))

    def load(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for part in self._parts():
            if _remote(part):
                from pipelines import files

                text = files.read_text(part)
            else:
                text = Path(part).read_text(encoding="utf-8")
            for line in text.splitlines():
                try:  # a damaged line is simply recomputed
                    row = json.loads(line)
                    found[row["key"]] = list(row["persona"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
        return found

    def append(self, rows: Iterable[tuple[str, list[str]]]) -> None:
        text = "".join(json.dumps({"key": k, "persona": p}, ensure_ascii=False) + "\n" for k, p in rows)
        if not text:
            return
        name = f"part-{uuid.uuid4().hex}.jsonl"
        if _remote(self.folder):
            from pipelines import files

            files.write_text(files.join(self.folder, name), text)
            return
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{name}.tmp-{uuid.uuid4().hex}"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
