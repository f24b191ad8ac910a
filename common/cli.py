"""What every command shares: one-line errors for user mistakes, logging set-up, provenance, device checks.

It sits below every other package (formats, extractor, models, jobs, measurements), so any of them may
raise `InputError` or run a command through `run_cli` without importing a layer above its own."""
from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent


class InputError(Exception):
    """A user-facing problem with the input as a whole (reported as one line, no traceback)."""


def code_version() -> str:
    """Git commit of the code that produced an artefact (with '+dirty' when tracked files other than the results under
    outputs/ differ from it), or the package version. A copy of the tree without its .git folder (a GPU worker)
    can name the commit it was copied from in PESCONV_CODE_VERSION."""
    if os.environ.get("PESCONV_CODE_VERSION"):
        return os.environ["PESCONV_CODE_VERSION"]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!outputs"],
                               cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"git:{sha}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"pesconv=={version('pesconv')}"
        except PackageNotFoundError:
            return "unknown"


def quiet_libraries() -> None:
    """Keep our progress lines readable: the libraries' own chatter goes to WARNING level."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # Beam's import-time note about optional GCP clients
        handler.addFilter(lambda record: "apitools" not in record.getMessage())
    for name in ("apache_beam", "transformers", "datasets", "huggingface_hub", "urllib3", "filelock", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a command's main; user errors exit 2 with one line, Ctrl-C exits 130 with one line."""
    try:
        code = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def check_device(device: str) -> None:
    """One-line error for a device this machine does not have (shared by every model command)."""
    import torch

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"unknown --device {device!r} (choose cpu or cuda)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is visible")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every command's --help: its module docstring as written (usage examples, definitions), then the options,
    each with its default unless the help already says it or the default is empty."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.default in (None, False, argparse.SUPPRESS, [])
                or "default" in text.lower()):
            return text
        return text + " (default: %(default)s)"


def command_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of a command (`prog` as users type it, `doc` its module docstring)."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=HelpFormatter)
