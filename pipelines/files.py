"""Build outputs through Beam's `FileSystems`: a gs://, s3:// or hdfs:// path works like a local one.

Every file is written whole under a temporary name and renamed into place, so a reader never sees
half a file and a crashed worker leaves only a `.tmp-*` file that the next run ignores.
"""
from __future__ import annotations

import uuid

from apache_beam.io.filesystems import FileSystems


def join(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts)


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary name, then rename over any old file)."""
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(tmp) as f:
        f.write(data)
    move([tmp], [path])


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path) as f:
        return f.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def read_jsonl(path: str) -> list[dict]:
    """The rows of a JSON-lines file the build wrote ([] when it does not exist)."""
    import json

    return [json.loads(line) for line in read_text(path).splitlines() if line] if exists(path) else []


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def list_files(pattern: str) -> list[str]:
    """Paths matching a glob (sorted); none when nothing matches."""
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # BeamIOError when the folder does not exist yet
        return []
    return sorted(m.path for m in found if ".tmp-" not in m.path)


def delete_all(paths: list[str]) -> None:
    if paths:
        FileSystems.delete(paths)


def move(sources: list[str], targets: list[str]) -> None:
    """Rename files into place, replacing files of the same name."""
    delete_all([t for t in targets if FileSystems.exists(t)])
    if sources:
        FileSystems.rename(sources, targets)
