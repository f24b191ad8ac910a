"""Extractor training: loss falls on a few pairs, the adapter reloads and extracts, resume, both backends."""
from __future__ import annotations

import json

import pytest
import torch

from tests.helpers import PERSONACHAT_CSV


@pytest.fixture(scope="module")
def few_pairs(tmp_path_factory):
    """Six real PERSONA-CHAT pairs in the CSV form (validation = the same pairs: we check fitting); aligned,
    they give about 20 per-utterance examples."""
    lines = PERSONACHAT_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path_factory.mktemp("pairs") / "few.csv"
    path.write_text("".join(lines[:7]), encoding="utf-8")
    return path


TRAIN = ["--heldout-fraction", "0", "--batch-size", "3", "--warmup-steps", "1", "--max-length", "400",
         "--no-progress", "--patience", "0"]


def train(out, data, model, *extra):
    from pipelines.train_extractor import main

    return main(["--data", str(data), "--valid-data", str(data), "--model", str(model), "--output", str(out),
                 *TRAIN, *extra])


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_causal_dir, few_pairs):
    out = tmp_path_factory.mktemp("lora")
    assert train(out, few_pairs, tiny_causal_dir, "--lr", "3e-2", "--lora-r", "4", "--epochs", "3",
                 "--max-steps", "6", "--eval-every", "3") == 0
    return out


def test_causal_prompt_is_the_builds_and_only_the_persona_is_learned(tiny_causal_dir):
    from transformers import AutoTokenizer

    from extractor.base import CausalExtractor, GenerationSettings
    from extractor.formatting import causal_target
    from extractor.training import IGNORE, encode_causal

    tok = AutoTokenizer.from_pretrained(tiny_causal_dir)
    ext = CausalExtractor(model=None, tokenizer=tok, settings=GenerationSettings())
    utts, persona = ["i have two dogs .", "i work nights ."], ["i have two dogs.", "i am a nurse."]
    ex = encode_causal(tok, utts, persona, max_length=512)
    prompt_ids = tok(ext.prompt(utts), add_special_tokens=False).input_ids
    target_ids = tok(causal_target(persona) + tok.eos_token, add_special_tokens=False).input_ids
    assert ex.input_ids == prompt_ids + target_ids
    assert ex.labels == [IGNORE] * len(prompt_ids) + target_ids


def test_lora_training_lowers_the_loss_and_writes_a_card(lora_run):
    metrics = json.loads((lora_run / "training_metrics.json").read_text())
    losses = [h["valid_loss"] for h in metrics["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0] - 0.05, losses  # before, step 3, step 6
    assert (lora_run / "adapter_model.safetensors").exists() and (lora_run / "adapter_config.json").exists()
    assert not (lora_run / "README.md").exists() and not list(lora_run.glob("*.bin"))
    card = (lora_run / "model_card.md").read_text()
    for needle in ("## Data", "## Settings", "LoRA r=4", "## Training", "python -m pipelines.train_extractor --data"):
        assert needle in card
    assert json.loads((lora_run / "split.json").read_text())["heldout"] == []


def test_saved_adapter_reloads_and_extracts(lora_run, tiny_causal_dir):
    from extractor.base import GenerationSettings
    from extractor.loading import load_extractor, resolve_extractor

    settings = GenerationSettings(max_new_tokens=6)
    tuned = load_extractor(str(tiny_causal_dir), adapter=str(lora_run), settings=settings)
    base = load_extractor(str(tiny_causal_dir), adapter="none", settings=settings)
    changed = any(not torch.equal(a, b) for a, b in zip(tuned.model.state_dict().values(),
                                                         base.model.state_dict().values()))
    assert changed  # the trained (float16-stored) LoRA weights were merged in
    out = tuned.extract([["i have two dogs ."], ["hello there .", "i am a nurse ."]])
    assert len(out) == 2 and all(isinstance(s, str) for row in out for s in row)
    spec = resolve_extractor(str(tiny_causal_dir), adapter=str(lora_run))
    assert spec.describe()["adapter_sha256"]


def test_fast_path_matches_plain_generate(tiny_causal_dir):
    from extractor.base import GenerationSettings
    from extractor.loading import load_extractor

    ext = load_extractor(str(tiny_causal_dir), adapter="none", settings=GenerationSettings(max_new_tokens=6))
    inputs = [["i have two dogs ."], ["hello there .", "i am a nurse , i work nights ."], ["i have two dogs ."],
              ["a", "b", "c", "my car is red ."]]
    assert ext.shared_prefix()[1]  # the instruction block is cached once
    fast = ext.generate_texts(inputs)
    plain = ext._generate_plain(inputs)
    assert fast == plain and fast[0] == fast[2]


def test_rows_that_finish_leave_the_batch_with_the_answers_generate_gives(tmp_path):
    """The decode loop drops a row once it has produced a stop token; the other rows must still get
    exactly what greedy `generate` gives them, and the token count must not change."""
    from extractor.base import GenerationSettings
    from extractor.loading import load_extractor
    from tests.helpers import make_tiny_causal

    model_dir = make_tiny_causal(tmp_path / "tiny", init_range=0.3)  # answers that differ by input
    ext = load_extractor(str(model_dir), adapter="none", settings=GenerationSettings(max_new_tokens=8))
    inputs = [["i have two dogs ."], ["hello there .", "i am a nurse , i work nights ."], ["my car is red ."],
              ["we moved to ohio last year ."], ["i like tea"]]
    tok = ext.tokenizer
    tok.padding_side = "left"
    enc = tok([ext.fitted_prompt(u) for u in inputs], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        rows = ext.model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id,
                                  eos_token_id=-1)[:, enc["input_ids"].shape[1]:].tolist()
    # A random model knows no real stop token: take one that ends some rows early, at different steps.
    stop = next(t for row in rows for t in row[1:6] if 1 < sum(t in r for r in rows) < len(rows)
                and len({r.index(t) for r in rows if t in r}) > 1)
    ext.stop_ids = lambda: [stop]
    dropping = ext.generate_texts(inputs)
    counted = ext.generated_tokens
    ext.drop_finished = False
    stepping = ext.generate_texts(inputs)
    assert dropping == stepping == ext._generate_plain(inputs)
    assert counted == sum(r.index(stop) + 1 if stop in r else 8 for r in rows)
    assert len(set(dropping)) == len(inputs)


def test_training_resumes_from_its_checkpoint(tmp_path, tiny_causal_dir, few_pairs, capsys):
    out = tmp_path / "run"
    args = ("--lr", "1e-2", "--lora-r", "2", "--save-every", "1", "--epochs", "5")
    assert train(out, few_pairs, tiny_causal_dir, *args, "--max-steps", "2") == 0
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2
    assert train(out, few_pairs, tiny_causal_dir, *args, "--max-steps", "3") == 0
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 3
    assert "trained causal extractor: 3 steps" in capsys.readouterr().out
    from common.cli import InputError

    with pytest.raises(InputError, match="other settings"):
        train(out, few_pairs, tiny_causal_dir, "--lr", "5e-2", "--lora-r", "2", "--epochs", "5", "--max-steps", "4")


def test_seq2seq_training_saves_a_loadable_model(tmp_path, tiny_seq2seq_dir, few_pairs):
    from extractor.base import GenerationSettings
    from extractor.loading import load_extractor

    out = tmp_path / "s2s"
    assert train(out, few_pairs, tiny_seq2seq_dir, "--lr", "1e-2", "--epochs", "2", "--eval-every", "2",
                 "--max-input", "64", "--max-target", "32") == 0
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert metrics["history"][-1]["valid_loss"] < metrics["history"][0]["valid_loss"]
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    ext = load_extractor(str(out), adapter="none", settings=GenerationSettings(max_new_tokens=5))
    assert ext.backend == "seq2seq" and len(ext.extract([["i have two dogs ."]])) == 1


def test_bad_training_options_are_user_errors(tmp_path, few_pairs):
    from common.cli import InputError
    from pipelines.train_extractor import main

    with pytest.raises(InputError, match="--epochs must be positive"):
        main(["--data", str(few_pairs), "--epochs", "0", "--output", str(tmp_path)])
    bad = tmp_path / "bad.csv"
    bad.write_text(",context,persona\n0,hi </s>, </s>\n")
    with pytest.raises(InputError, match="bad.csv:2: empty 'persona'"):
        main(["--data", str(bad), "--output", str(tmp_path / "o")])


def test_prefix_cached_loss_equals_the_plain_loss(tiny_causal_dir):
    """Training runs the shared instruction prefix once per batch; loss and gradients must not change."""
    from peft import LoraConfig, get_peft_model

    from extractor.base import GenerationSettings
    from extractor.formatting import ExtractionInput
    from extractor.loading import load_extractor
    from extractor.training import collate, encode_causal, prefix_cached_loss, split_shared_prefix

    ext = load_extractor(str(tiny_causal_dir), adapter="none", settings=GenerationSettings())
    prefix = ext.shared_prefix()[1]
    model = get_peft_model(ext.model, LoraConfig(r=2, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.5)
    examples = [encode_causal(ext.tokenizer, ExtractionInput((u,), c), t, 512) for u, c, t in [
        ("i have two dogs .", "what do you do ?", ["i have two dogs."]), ("hello there !", "", []),
        ("i am a nurse and i work nights at the hospital .", "hi", ["i am a nurse.", "i work nights."])]]
    suffixes = split_shared_prefix(examples, prefix)
    assert suffixes is not None and all(len(s.input_ids) < len(e.input_ids) for s, e in zip(suffixes, examples))
    params = [p for p in model.parameters() if p.requires_grad]
    plain = model(**collate(examples, ext.tokenizer.pad_token_id, seq2seq=False)).loss
    cached = prefix_cached_loss(model, prefix, suffixes, ext.tokenizer.pad_token_id)
    assert float(cached.detach()) == pytest.approx(float(plain.detach()), rel=1e-5)
    for a, b in zip(torch.autograd.grad(plain, params), torch.autograd.grad(cached, params)):
        assert torch.allclose(a, b, atol=1e-6)


def test_examples_prepared_elsewhere_train_the_same_adapter(tmp_path, tiny_causal_dir, few_pairs):
    """--items: aligned once (where the MiniLM aligner is), trained from the file; the same weights as aligning in
    the run itself, and a file prepared with other data options is refused."""
    from safetensors.torch import load_file

    from common.cli import InputError

    items = tmp_path / "items.json"
    args = ("--lr", "1e-2", "--lora-r", "2", "--epochs", "1", "--max-steps", "2")
    assert train(tmp_path / "prep", few_pairs, tiny_causal_dir, "--items", str(items), "--prepare-only") == 0
    blob = json.loads(items.read_text())
    assert blob["train"] and blob["valid"] and not (tmp_path / "prep" / "adapter_model.safetensors").exists()
    assert train(tmp_path / "from_file", few_pairs, tiny_causal_dir, *args, "--items", str(items)) == 0
    assert train(tmp_path / "direct", few_pairs, tiny_causal_dir, *args) == 0
    a = load_file(tmp_path / "from_file" / "adapter_model.safetensors")
    b = load_file(tmp_path / "direct" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(InputError, match="prepared with --none-ratio"):
        train(tmp_path / "other", few_pairs, tiny_causal_dir, *args, "--items", str(items), "--none-ratio", "0.2")
