"""The PAL encoder-decoder: co-attention with masking (Eq. 2-3), the Eq. 4 memory, strategy tokens, loss, I/O."""
from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from modeling.data import TokenSettings, collate_seq2seq, load_examples, tokenize_examples
from modeling.models import ResponseModel
from modeling.pal import PALModel, co_attention
from modeling.strategies import STRATEGY_TOKENS
from tests.helpers import BLENDERBOT_DIR


def _ln(d):
    torch.manual_seed(1)
    ln = nn.LayerNorm(d)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    return ln


def test_co_attention_matches_equations_on_real_tokens_only():
    torch.manual_seed(0)
    b, ld, lp, d = 2, 5, 4, 6
    h_d, h_p = torch.randn(b, ld, d), torch.randn(b, lp, d)
    mask_d = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    mask_p = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    ln_d, ln_p = _ln(d), _ln(d)
    hat_d, hat_p = co_attention(h_d, mask_d, h_p, mask_p, ln_d, ln_p)
    for i in range(b):  # explicit Eq. 2-3 on the unpadded tensors
        nd, np_ = int(mask_d[i].sum()), int(mask_p[i].sum())
        hd, hp = h_d[i, :nd], h_p[i, :np_]
        z_d = torch.softmax(hd @ hp.T, -1) @ hp
        z_p = torch.softmax(hp @ hd.T, -1) @ hd
        assert torch.allclose(hat_d[i, :nd], ln_d(hd + z_d), atol=1e-5)
        assert torch.allclose(hat_p[i, :np_], ln_p(hp + z_p), atol=1e-5)
    # padded values never leak into real positions
    h_p2, h_d2 = h_p.clone(), h_d.clone()
    h_p2[1, 2:] = 1e3
    h_d2[1, 3:] = -1e3
    hat_d2, hat_p2 = co_attention(h_d2, mask_d, h_p2, mask_p, ln_d, ln_p)
    assert torch.allclose(hat_d2[1, :3], hat_d[1, :3], atol=1e-5)
    assert torch.allclose(hat_p2[1, :2], hat_p[1, :2], atol=1e-5)


def test_empty_persona_gives_zero_attention_no_nan():
    h_d, h_p = torch.randn(1, 3, 4), torch.randn(1, 2, 4)
    ln = nn.LayerNorm(4)
    hat_d, hat_p = co_attention(h_d, torch.ones(1, 3, dtype=torch.bool), h_p, torch.zeros(1, 2, dtype=torch.bool),
                                ln, ln)
    assert torch.allclose(hat_d, ln(h_d), atol=1e-6) and not torch.isnan(hat_p).any()


@pytest.fixture(scope="module")
def pal(tiny_seq2seq_dir):
    return ResponseModel.build(str(tiny_seq2seq_dir), "pal")


@pytest.fixture(scope="module")
def pal_rows(pal, tiny_build):
    ex = load_examples(tiny_build, "train")
    tok = tokenize_examples(ex, pal.tokenizer, pal.family, "pal", pal.token_settings)
    with_persona = [tok[i] for i in range(len(tok)) if tok[i]["persona_ids"]][:2]
    without = [tok[i] for i in range(len(tok)) if not tok[i]["persona_ids"]][:1]
    return with_persona + without


def test_memory_concatenates_history_and_persona_positions(pal, pal_rows):
    net: PALModel = pal.net.eval()
    batch = collate_seq2seq(pal_rows, pal.pad_id)
    lam = net.mix_w.softmax(-1)
    assert torch.allclose(lam, torch.full((3,), 1 / 3))  # w initialised equal
    memory, mask = net.encode(batch)
    ld, lp = batch["input_ids"].shape[1], batch["persona_ids"].shape[1]
    assert memory.shape[1] == ld + lp and torch.equal(mask, torch.cat([batch["input_mask"], batch["persona_mask"]], 1))
    with torch.no_grad():
        h_d = net.encoder_states(batch["input_ids"], batch["input_mask"])
        h_p = net.encoder_states(batch["persona_ids"], batch["persona_mask"])
        hat_d, hat_p = co_attention(h_d, batch["input_mask"], h_p, batch["persona_mask"], net.ln_d, net.ln_p)
    assert torch.allclose(memory[:, :ld], lam[0] * hat_d + lam[2] * h_d, atol=1e-5)
    assert torch.allclose(memory[:, ld:], lam[1] * hat_p, atol=1e-5)
    no_p, no_p_mask = net.encode(batch, use_persona=False)
    assert torch.allclose(no_p, lam[0] * net.ln_d(h_d) + lam[2] * h_d, atol=1e-5)
    # the row without persona: its persona positions are all masked, its history part equals the no-persona pass
    assert not mask[2, ld:].any()
    assert torch.allclose(memory[2, :ld], no_p[2], atol=1e-5)


def test_target_is_strategy_token_then_response_and_loss_is_token_nll(pal, pal_rows):
    ids = pal.tokenizer.convert_tokens_to_ids(list(STRATEGY_TOKENS))
    assert len(set(ids)) == 8 and all(t in pal.tokenizer.all_special_tokens for t in STRATEGY_TOKENS)
    for r in pal_rows:
        assert r["labels"][0] in ids and r["labels"][-1] == pal.tokenizer.eos_token_id
        assert pal.tokenizer.convert_ids_to_tokens(r["labels"][0]) == f"[{r['strategy']}]"
    batch = collate_seq2seq(pal_rows, pal.pad_id)
    pal.net.eval()
    out = pal.net(batch)
    logits, labels = out.logits, batch["labels"]
    manual = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(out.loss, manual, atol=1e-5)
    out.loss.backward()
    assert pal.net.mix_w.grad is not None and pal.net.ln_p.weight.grad is not None
    pal.net.zero_grad()
    s = pal.score(pal_rows)
    assert torch.allclose(s["nll_sum"].sum() / s["n_tokens"].sum(), manual, atol=1e-4)


def test_examples_one_per_supporter_turn_with_visible_persona(tiny_build):
    import datasets

    dialogs = datasets.load_dataset(str(tiny_build), split="train")
    ex = load_examples(tiny_build, "train")
    expected = sum(1 for d in dialogs for i, t in enumerate(d["dialog"]) if t["speaker"] == "supporter" and i > 0)
    assert len(ex) == expected
    first = ex[0]
    turn = next(d for d in dialogs if d["dialog_id"] == first["dialog_id"])["dialog"][first["turn"]]
    assert first["response"] == turn["text"] and first["strategy"] == turn["strategy"]
    assert first["persona"] == turn["persona"] and len(first["history"]) == first["turn"]


def test_variant_inputs(tiny_build, tiny_causal_dir):
    from transformers import AutoTokenizer

    from modeling.strategies import add_strategy_tokens

    tok = AutoTokenizer.from_pretrained(tiny_causal_dir)
    add_strategy_tokens(tok)
    ex = load_examples(tiny_build, "train")
    i = next(k for k in range(len(ex)) if ex[k]["persona"])
    settings = TokenSettings(max_source_len=64)
    hard = tokenize_examples(ex, tok, "seq2seq", "hard-prompt", settings)[i]
    joint = tokenize_examples(ex, tok, "seq2seq", "joint", settings)[i]
    causal = tokenize_examples(ex, tok, "causal", "pal", settings)[i]
    assert tok.decode(hard["input_ids"]).startswith("persona:") and hard["input_ids"] != hard["input_ids_nop"]
    assert joint["input_ids"] == joint["input_ids_nop"] and not joint["persona_ids"]
    persona_budget = settings.max_persona_len
    assert len(hard["input_ids"]) <= 64 + persona_budget and len(causal["input_ids"]) <= 64 + persona_budget
    assert "response:" in tok.decode(causal["input_ids_nop"][-4:])


def test_persona_does_not_take_tokens_from_the_history(tiny_build, tiny_causal_dir):
    """Eq. 6's two inputs share the history cut: removing the persona tokens from the with-persona
    prompt gives exactly the no-persona prompt, even when the history is truncated."""
    from transformers import AutoTokenizer

    from modeling.strategies import add_strategy_tokens

    tok = AutoTokenizer.from_pretrained(tiny_causal_dir)
    add_strategy_tokens(tok)
    ex = load_examples(tiny_build, "train")
    settings = TokenSettings(max_source_len=48, max_persona_len=20)
    checked = 0
    for family, variant in (("causal", "pal"), ("seq2seq", "hard-prompt")):
        rows = tokenize_examples(ex, tok, family, variant, settings)
        for i in range(len(ex)):
            if not ex[i]["persona"]:
                continue
            r = rows[i]
            p_ids = tok(" ".join(p.strip() for p in ex[i]["persona"]), add_special_tokens=False)["input_ids"][:20]
            start = len(tok("Persona: ", add_special_tokens=False)["input_ids"])
            assert r["input_ids"][start:start + len(p_ids)] == p_ids
            assert r["input_ids"][:start] + r["input_ids"][start + len(p_ids):] == r["input_ids_nop"]
            assert len(r["input_ids_nop"]) <= 48 and len(r["input_ids"]) == len(r["input_ids_nop"]) + len(p_ids)
            checked += 1
    assert checked >= 2


def test_save_load_roundtrip(pal, pal_rows, tmp_path):
    pal.net.eval()
    before = pal.score(pal_rows)
    pal.save(tmp_path / "ck")
    again = ResponseModel.load(tmp_path / "ck")
    again.net.eval()
    assert again.variant == "pal" and torch.allclose(again.score(pal_rows)["nll_sum"], before["nll_sum"], atol=1e-4)


def test_config_only_folder_builds_random_init_pal(tmp_path, caplog):
    folder = tmp_path / "bb"
    shutil.copytree(BLENDERBOT_DIR, folder)
    with caplog.at_level("WARNING"):
        model = ResponseModel.build(str(folder), "pal")
    assert "RANDOMLY INITIALISED" in caplog.text and model.base_info["random_init"]
    assert model.family == "seq2seq" and type(model.net.base).__name__ == "BlenderbotSmallForConditionalGeneration"
    assert len(model.tokenizer) == model.net.base.get_input_embeddings().weight.shape[0]
    ids = model.tokenizer("i feel so lonely these days .", add_special_tokens=False)["input_ids"]
    row = {"input_ids": ids, "input_ids_nop": ids, "persona_ids": ids[:3],
           "labels": [model.strategy_ids[0], *ids[:4], model.eos_id]}
    model.net.eval()
    with torch.no_grad():
        assert torch.isfinite(model.loss(collate_seq2seq([row], model.pad_id)))


def test_decoder_only_loss_and_scores_match_the_model_own_loss(tiny_build, tiny_causal_dir):
    """Left-padded batches with the LM head on the target tail give the plain per-example token NLL."""
    model = ResponseModel.build(str(tiny_causal_dir), "pal", TokenSettings(max_source_len=40), lora_r=0)
    model.net.eval()
    ex = load_examples(tiny_build, "train")
    rows = [tokenize_examples(ex, model.tokenizer, "causal", "pal", model.token_settings)[i] for i in (0, 3, 7)]
    total, count = 0.0, 0
    with torch.no_grad():
        for r in rows:  # one example at a time, no padding: the model's own loss on the target
            ids = torch.tensor([r["input_ids"] + r["labels"]])
            labels = torch.tensor([[-100] * len(r["input_ids"]) + r["labels"]])
            n = len(r["labels"])
            total += float(model.net(input_ids=ids, labels=labels).loss) * n
            count += n
        batch_loss = model.loss(model.collate_train(rows))
    s = model.score(rows)
    assert int(s["n_tokens"].sum()) == count
    assert float(s["nll_sum"].sum()) == pytest.approx(total, rel=1e-4)
    assert float(batch_loss) == pytest.approx(total / count, rel=1e-4)
    with torch.no_grad():  # the strategy logits are those of the position before the target
        r = rows[1]
        logits = model.net(input_ids=torch.tensor([r["input_ids"]])).logits[0, -1, model.strategy_ids]
    assert torch.allclose(s["strategy_logits"][1], logits, atol=1e-4)


def test_lora_top_layers_only(tiny_causal_dir, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_causal_dir)
    config.num_hidden_layers = 3
    config.save_pretrained(tmp_path)  # config only: a random-init 3-block model
    AutoTokenizer.from_pretrained(tiny_causal_dir).save_pretrained(tmp_path)
    model = ResponseModel.build(str(tmp_path), "pal", lora_r=4, lora_layers=1)
    names = [n for n, p in model.net.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n and ".layers.2." in n for n in names)
    full = ResponseModel.build(str(tmp_path), "pal", lora_r=4)
    names = [n for n, p in full.net.named_parameters() if p.requires_grad]
    assert any(".layers.0." in n for n in names) and any("embed_tokens" in n for n in names)


def test_examples_without_the_datasets_package_match(tiny_build, monkeypatch):
    """A bare GPU worker without `datasets`: pyarrow fallback gives the same examples and the same sample."""
    with_ds = load_examples(tiny_build, "train", max_examples=10, seed=3)
    monkeypatch.setitem(__import__("sys").modules, "datasets", None)
    without = load_examples(tiny_build, "train", max_examples=10, seed=3)
    assert type(without).__name__ == "RowsDataset" and len(without) == 10
    assert [without[i] for i in range(10)] == [with_ds[i] for i in range(10)]
    assert sorted(without.column_names) == sorted(with_ds.column_names)
    assert without["dialog_id"] == with_ds["dialog_id"]  # a column by name, as generate's ordering reads it


def test_skip_repeats_leaves_out_a_response_that_repeats_the_turn_before(tiny_build, tmp_path, monkeypatch):
    """A double submission (a supporter turn repeated right after itself) is one example fewer with
    `skip_repeats`, with `datasets` and with the pyarrow fallback; the repeat is kept by default."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.pesconv import PESCONV_SCHEMA

    rows = [r for f in sorted((tiny_build / "data").glob("train-*.parquet")) for r in pq.read_table(f).to_pylist()]
    dialog = rows[0]["dialog"]
    i = next(j for j, t in enumerate(dialog) if j and t["speaker"] == "supporter" and t["strategy"])
    rows[0]["dialog"] = dialog[:i + 1] + [dict(dialog[i])] + dialog[i + 1:]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=PESCONV_SCHEMA), tmp_path / "data" / "train-00000-of-00001.parquet")
    for datasets_module in ("real", None):
        if datasets_module is None:
            monkeypatch.setitem(__import__("sys").modules, "datasets", None)
        kept, skipped = load_examples(tmp_path, "train"), load_examples(tmp_path, "train", skip_repeats=True)
        assert len(kept) == len(skipped) + 1
        assert [(kept[j]["dialog_id"], kept[j]["turn"]) for j in range(len(kept))
                if (kept[j]["dialog_id"], kept[j]["turn"]) == (rows[0]["dialog_id"], i + 1)]
        assert all((skipped[j]["dialog_id"], skipped[j]["turn"]) != (rows[0]["dialog_id"], i + 1)
                   for j in range(len(skipped)))
