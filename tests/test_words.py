"""The project speaks of what it is: no account of how it was made in its code, docs, cards or tests.

History that matters is in CHANGELOG.md (by version and date), the one file this test leaves alone."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.helpers import REPO

NARRATION = re.compile(r"\bstops? \d+|\bstop-\d+|\bsessions?\b|\blent\b|\ban earlier run\b|\bprevious\ssession\b",
                       re.IGNORECASE)
ALLOWED = re.compile(r"""scope=["']session["']""")  # pytest's fixture scope, not a narration
CHECKED = (".py", ".md", ".sh", ".cfg", ".toml", ".txt")


def narration(text: str) -> list[str]:
    """The lines of `text` that narrate how the project was made."""
    return [line.strip() for line in text.splitlines() if NARRATION.search(ALLOWED.sub("", line))]


def project_files() -> list[Path]:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    skipped = {"CHANGELOG.md", "tests/test_words.py"}  # the history; this file names the words it looks for
    return [REPO / f for f in tracked if f.endswith(CHECKED) and f not in skipped and (REPO / f).is_file()]


def test_no_file_narrates_how_the_project_was_made():
    found = [f"{path.relative_to(REPO)}: {line[:120]}" for path in project_files()
             for line in narration(path.read_text(encoding="utf-8", errors="replace"))]
    assert not found, "narration (history goes in CHANGELOG.md):\n" + "\n".join(found)


def test_the_word_check_sees_narration():
    stop, session = "st" + "op", "ses" + "sion"  # spelled apart so that this file itself does not narrate
    assert narration(f"Added at {stop} 28, after an earlier run.") and narration("as run on a le" + "nt GPU")
    assert narration(f"the {stop}-27 full build") and narration(f"measured in this {session}")
    assert not narration('@pytest.fixture(scope="session")') and not narration("the build stops when done")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)}


def test_the_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
