"""The package as users and workers install it: a wheel, installed into a clean folder, building from elsewhere."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ESCONV, REPO

pytestmark = pytest.mark.slow  # a wheel, an install and a 2-dialog build: about half a minute


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel of this checkout installed (without its dependencies, which the test environment has) into a
    folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # the checkout's files, so that building leaves nothing in the checkout
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for rel in listed:
        if (REPO / rel).is_file() and not rel.startswith(("outputs/", "tests/")):
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, source / rel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(root / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((root / "dist").glob("pesconv-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(root / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return root / "site"


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_installed_wheel_builds_from_another_folder(installed: Path, tmp_path: Path):
    where = run_installed(installed, tmp_path, "-c", "import pipelines, extractor; print(pipelines.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed)  # the wheel's code, not this checkout's
    proc = run_installed(installed, tmp_path, "-m", "pipelines.build_pesconv", "--input", str(ESCONV),
                         "--extractor", "rule", "--max-dialogs", "2", "--output", "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((tmp_path / "out" / "data").glob("*.parquet"))) >= 1
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_a_missing_package_file_is_a_one_line_error(installed: Path, tmp_path: Path):
    labels = installed / "extractor" / "remark_labels.tsv"
    kept = labels.read_bytes()
    labels.unlink()
    try:
        proc = run_installed(installed, tmp_path, "-m", "pipelines.build_pesconv", "--input", str(ESCONV),
                             "--extractor", "rule", "--max-dialogs", "2", "--output", "out")
    finally:
        labels.write_bytes(kept)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: package file missing: ")
    assert "remark_labels.tsv" in proc.stderr.strip().splitlines()[-1]
