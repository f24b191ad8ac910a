"""The extractor interface and its two backends (seq2seq and decoder-only causal LM)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch

from extractor.dedup import merge_persona
from extractor.formatting import ExtractionInput, InputLike, as_input, causal_messages, join_utterances, parse_persona

# Chat-format markers that end the assistant's answer. SmolLM2 (GGUF) often closes its answer with
# <|im_start|> instead of <|im_end|>: without these it runs on to max_new_tokens, writing new turns.
CHAT_STOP_TOKENS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")


DEFAULT_BATCH_SIZE = 64  # generation batch: finished rows leave it (CausalExtractor.drop_finished), so larger pays


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; all of them are part of the inference-cache key."""

    max_new_tokens: int = 64
    num_beams: int = 1  # greedy by default (deterministic); the paper used 10 beams
    max_input_tokens: int = 512  # inputs keep their most recent tokens

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PersonaExtractor:
    """A loaded model + tokenizer that turns utterance lists into persona sentences."""

    model: Any
    tokenizer: Any
    settings: GenerationSettings
    identity: dict[str, Any] = field(default_factory=dict)  # model id, weights/adapter hashes, dtype...
    device: str = "cpu"
    backend: str = "abstract"

    @property
    def fingerprint(self) -> str:
        return str(self.identity.get("fingerprint", ""))

    def describe(self) -> dict[str, Any]:
        """Provenance record (model, hashes, settings) as resolved by `ExtractorSpec`."""
        return {"backend": self.backend, **self.identity}

    def extract(self, inputs: Sequence[InputLike]) -> list[list[str]]:
        """Persona sentences for each input; a sentence repeated verbatim (after normalising) is kept once."""
        if not inputs:
            return []
        return [merge_persona([], parse_persona(t), threshold=1.01) for t in self.generate_texts(inputs)]

    def generate_texts(self, inputs: Sequence[InputLike]) -> list[str]:
        raise NotImplementedError

    def input_length(self, inp: InputLike) -> int:
        """Cheap length proxy used to batch similar lengths together."""
        return as_input(inp).size()


@dataclass
class Seq2SeqExtractor(PersonaExtractor):
    """BART-family extractor, the paper's setup: `u1 <sep> u2 ...` -> `p1 <persona> p2 ...`."""

    backend: str = "seq2seq"

    def generate_texts(self, inputs: Sequence[InputLike]) -> list[str]:
        """The paper's input (utterances joined by <sep>); the partner context is not used by this format."""
        tok = self.tokenizer
        tok.truncation_side = "left"  # keep the most recent utterances
        enc = tok([join_utterances(as_input(u).utterances) for u in inputs], return_tensors="pt", padding=True,
                  truncation=True, max_length=self.settings.max_input_tokens).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=self.settings.max_new_tokens, num_beams=self.settings.num_beams,
                do_sample=False, early_stopping=self.settings.num_beams > 1, use_cache=True,
            )
        drop = {t for t in (tok.pad_token, tok.eos_token, tok.bos_token) if t}
        texts = []
        for row in out:
            pieces = tok.convert_ids_to_tokens(row.tolist())
            kept = [p for p in pieces if p not in drop]
            texts.append(tok.convert_tokens_to_string(kept))
        return texts


@dataclass
class CausalExtractor(PersonaExtractor):
    """Decoder-only extractor: an instruction prompt (chat template when the tokenizer has one).

    The fast path (`reuse_prefix`): every prompt starts with the same instruction block (system prompt +
    worked example); its key/value cache is computed once per loaded model and shared by every row
    of every batch, so only each input's own tokens are encoded. Inputs are sorted by length and
    batched (`batch_size`), identical inputs are generated once, and (`drop_finished`) greedy decoding
    takes each row out of the batch as soon as it has produced its end-of-turn token.
    """

    backend: str = "causal"
    batch_size: int = DEFAULT_BATCH_SIZE
    reuse_prefix: bool = True
    drop_finished: bool = True  # False: transformers' `generate`, which steps finished rows to the end
    roomy_cache: bool = True  # False: transformers' cache, which concatenates the whole cache every step (benchmarks)
    generated_tokens: int = 0  # new tokens produced so far (up to each row's end token), for benchmarks
    _prefix: Any = field(default=None, init=False, repr=False)

    def prompt(self, inp: InputLike) -> str:
        return chat_prompt(self.tokenizer, inp)

    def fitted_prompt(self, inp: InputLike) -> str:
        """Drop the oldest utterances until the prompt fits `max_input_tokens`."""
        inp = as_input(inp)
        while True:
            text = self.prompt(inp)
            if len(inp.utterances) <= 1 or len(self.tokenizer(text).input_ids) <= self.settings.max_input_tokens:
                return text
            inp = ExtractionInput(inp.utterances[1:], inp.context)

    # ------------------------------------------------------------------ shared-prefix fast path
    def shared_prefix(self) -> tuple[str, list[int]]:
        """The text every prompt starts with, cut where tokenisation is known to split (after a
        special token, else after a newline), and its token ids."""
        if self._prefix is None:
            a, b = self.prompt(ExtractionInput(("a",))), self.prompt(ExtractionInput(("b",)))
            n = 0
            while n < min(len(a), len(b)) and a[n] == b[n]:
                n += 1
            text = a[:n]
            specials = [t for t in getattr(self.tokenizer, "all_special_tokens", []) if t and t in text]
            cut = max((text.rfind(t) + len(t) for t in specials), default=0)
            if cut == 0:
                cut = text.rfind("\n") + 1
            prefix = text[:cut]
            ids = self.tokenizer(prefix, add_special_tokens=False).input_ids if prefix else []
            self._prefix = (prefix, ids, None)
        return self._prefix[0], self._prefix[1]

    def _prefix_cache(self) -> Any:
        prefix, ids = self.shared_prefix()
        if self._prefix[2] is None:
            from transformers import DynamicCache

            cache = DynamicCache(config=self.model.config)
            with torch.inference_mode():
                self.model(input_ids=torch.tensor([ids], device=self.device), **{_cache_kw(self.model): cache},
                           use_cache=True)
            self._prefix = (prefix, ids, cache)
        return self._prefix[2]

    def _suffix_ids(self, inp: ExtractionInput) -> list[int] | None:
        """Ids of the prompt after the shared prefix (oldest utterances dropped to fit), or None when
        prefix + suffix would not tokenise exactly like the whole prompt."""
        prefix, pids = self.shared_prefix()
        while True:
            text = self.prompt(inp)
            if not text.startswith(prefix):
                return None
            sids = self.tokenizer(text[len(prefix):], add_special_tokens=False).input_ids
            if len(inp.utterances) <= 1 or len(pids) + len(sids) <= self.settings.max_input_tokens:
                break
            inp = ExtractionInput(inp.utterances[1:], inp.context)
        if pids + sids != self.tokenizer(text, add_special_tokens=False).input_ids:
            return None
        return sids

    def stop_ids(self) -> list[int]:
        """Token ids that end generation: the model's eos and the chat-format markers in the vocabulary."""
        ids = {self.tokenizer.eos_token_id}
        eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        ids |= set(eos) if isinstance(eos, (list, tuple)) else {eos}
        vocab = self.tokenizer.get_vocab()
        ids |= {vocab[t] for t in CHAT_STOP_TOKENS if t in vocab}
        return sorted(i for i in ids if i is not None)

    def generate_texts(self, inputs: Sequence[InputLike]) -> list[str]:
        """Texts for each input: deduplicated, sorted by length, batched, shared prefix reused."""
        keys = [as_input(u) for u in inputs]
        unique = list(dict.fromkeys(keys))
        prefix_ok = self.reuse_prefix and self.settings.num_beams == 1 and bool(self.shared_prefix()[1])
        suffixes = {k: self._suffix_ids(k) for k in unique} if prefix_ok else {}
        if prefix_ok and any(v is None for v in suffixes.values()):
            prefix_ok = False
        if prefix_ok:
            order = sorted(unique, key=lambda k: len(suffixes[k]))
        else:
            order = sorted(unique, key=self.input_length)
        texts: dict[ExtractionInput, str] = {}
        for s in range(0, len(order), self.batch_size):
            chunk = order[s:s + self.batch_size]
            outs = self._generate_prefixed([suffixes[k] for k in chunk]) if prefix_ok else self._generate_plain(chunk)
            texts.update(zip(chunk, outs))
        return [texts[k] for k in keys]

    def _generate_kwargs(self) -> dict[str, Any]:
        return dict(max_new_tokens=self.settings.max_new_tokens, num_beams=self.settings.num_beams,
                    do_sample=False, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.stop_ids(),
                    use_cache=True)

    def _generate_plain(self, inputs: Sequence[ExtractionInput]) -> list[str]:
        """Reference path: whole prompts, left-padded."""
        tok = self.tokenizer
        tok.padding_side = "left"
        prompts = [self.fitted_prompt(u) for u in inputs]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**enc, **self._generate_kwargs())
        new = out[:, enc["input_ids"].shape[1]:]
        self._count(new)
        return tok.batch_decode(new, skip_special_tokens=True)

    def _count(self, new: torch.Tensor) -> None:
        ends = torch.zeros_like(new, dtype=torch.bool)
        for t in set(self.stop_ids()) | ({self.tokenizer.pad_token_id} - {None}):
            ends |= new == t
        # tokens up to and including the first end token; all of them where a row never ended
        first = torch.where(ends.any(1), ends.float().argmax(1) + 1, torch.full_like(ends[:, 0], new.shape[1],
                                                                                     dtype=torch.long))
        self.generated_tokens += int(first.sum())

    def _generate_prefixed(self, suffixes: list[list[int]]) -> list[str]:
        """[shared prefix (cached)][left padding][own tokens] rows; positions follow the attention mask."""
        import copy

        tok = self.tokenizer
        _, pids = self.shared_prefix()
        width = max(len(s) for s in suffixes)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.tensor([pids + [pad] * (width - len(s)) + s for s in suffixes], device=self.device)
        mask = torch.tensor([[1] * len(pids) + [0] * (width - len(s)) + [1] * len(s) for s in suffixes],
                            device=self.device)
        cache = copy.deepcopy(self._prefix_cache())
        if self.drop_finished and self.roomy_cache:  # each step's keys and values go into room set aside
            from extractor.kv_cache import with_room

            with_room(cache, width + self.settings.max_new_tokens)
        if len(suffixes) > 1:
            cache.batch_repeat_interleave(len(suffixes))
        if self.drop_finished:
            new = self._greedy_dropping_finished(ids[:, len(pids):], mask, cache, pad)
        else:
            with torch.inference_mode():
                out = self.model.generate(input_ids=ids, attention_mask=mask, **{_cache_kw(self.model): cache},
                                          **self._generate_kwargs())
            new = out[:, ids.shape[1]:]
        self._count(new)
        return tok.batch_decode(new, skip_special_tokens=True)

    def _greedy_dropping_finished(self, ids: torch.Tensor, mask: torch.Tensor, cache: Any, pad: int) -> torch.Tensor:
        """Greedy decoding of `ids` (the rows' own tokens; `cache` holds what comes before them, `mask` covers
        both) that takes a row out of the batch, cache included, once it has produced a stop token.

        Why: `generate` steps every row until the longest answer ends, and answers vary a lot in length
        (NONE vs a copied list), so most of a batch's row-steps would be spent on rows already done.
        Same tokens as greedy `generate` (argmax of the same logits); [rows, steps] right-padded with `pad`."""
        stops = torch.tensor(self.stop_ids(), device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -ids.shape[1]:]  # left padding: positions follow the mask
        alive = torch.arange(ids.shape[0], device=self.device)
        tokens = torch.full((ids.shape[0], self.settings.max_new_tokens), pad, dtype=torch.long, device=self.device)
        kw = _cache_kw(self.model)
        steps = 0
        with torch.inference_mode():
            while steps < self.settings.max_new_tokens and len(alive):
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, **{kw: cache},
                                    use_cache=True, logits_to_keep=1).logits[:, -1]
                chosen = logits.argmax(-1)
                tokens[alive, steps] = chosen
                steps += 1
                going = ~torch.isin(chosen, stops)
                if not bool(going.all()):
                    keep = going.nonzero().flatten()
                    if len(keep):
                        cache.batch_select_indices(keep)
                    alive, chosen, mask, positions = alive[keep], chosen[keep], mask[keep], positions[keep]
                ids = chosen[:, None]
                mask = torch.cat([mask, mask.new_ones(len(alive), 1)], dim=1)
                positions = positions[:, -1:] + 1
        return tokens[:, :steps]


def chat_prompt(tokenizer: Any, inp: InputLike) -> str:
    """The decoder-only prompt text (chat template when the tokenizer has one); training uses it too."""
    messages = causal_messages(inp)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n"


def _cache_kw(model: Any) -> str:
    """The cache argument's name ('cache' in transformers >= 5.x, 'past_key_values' before)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft wrapper passes it on
    forward = getattr(base, "forward", None)
    params = inspect.signature(forward).parameters if forward is not None else {}
    return "cache" if "cache" in params else "past_key_values"
