"""Every command is a console script (setup.cfg) with the same --help style (common.cli.command_parser)."""
from __future__ import annotations

import configparser
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def console_scripts() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    lines = [x.strip() for x in cfg["options.entry_points"]["console_scripts"].splitlines() if x.strip()]
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


def test_every_command_module_has_a_console_script():
    commands = {f"{p.parent.name}.{p.stem}" for folder in ("pipelines", "analysis") for p in (REPO / folder).glob("*.py")
                if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8")}
    scripts = {target.split(":")[0] for target in console_scripts().values()}
    assert commands and commands == scripts, commands ^ scripts


@pytest.mark.parametrize("script", sorted(console_scripts()))
def test_help_is_the_module_docstring_with_defaults(script, capsys):
    module_name, func = console_scripts()[script].split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func))
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: python -m {module_name}")
    first_line = module.__doc__.strip().splitlines()[0]
    assert first_line in text  # the docstring, as written


RESEARCH = sorted(f"research.{p.stem}" for p in (REPO / "research").glob("*.py")
                  if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8"))


def test_research_tools_are_modules_not_console_scripts():
    assert len(RESEARCH) >= 8
    assert not [t for t in console_scripts().values() if t.startswith("research.")]
    assert all(name.startswith("pesconv-") for name in console_scripts())


@pytest.mark.parametrize("module_name", RESEARCH)
def test_research_help_names_its_module(module_name, capsys):
    module = importlib.import_module(module_name)
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m {module_name}")


def test_code_version_names_the_commit_of_a_tree_copied_without_git(monkeypatch):
    """A GPU worker gets the tree without .git: the commit it was copied from is given in PESCONV_CODE_VERSION."""
    from common.cli import code_version

    monkeypatch.delenv("PESCONV_CODE_VERSION", raising=False)
    assert code_version().startswith(("git:", "pesconv==", "unknown"))
    monkeypatch.setenv("PESCONV_CODE_VERSION", "git:0123456789ab")
    assert code_version() == "git:0123456789ab"
