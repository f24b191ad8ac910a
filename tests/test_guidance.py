"""Eq. 6 decoding: α = 0 reproduces plain `generate` under the same seed; α > 0 combines two cached passes."""
from __future__ import annotations

import pytest
import torch

from common.cli import InputError
from modeling.guidance import CausalStepper, SamplingSettings, Seq2SeqStepper, sample_loop, strategy_then_sample
from modeling.strategies import DEFAULT_ALPHA, alpha_table, parse_alpha
from schemas.strategies import STRATEGIES

SETTINGS = SamplingSettings(max_new_tokens=12)


@pytest.fixture(scope="module")
def causal(tiny_causal_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_causal_dir).eval()


@pytest.fixture(scope="module")
def seq2seq(tiny_seq2seq_dir):
    from transformers import AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM.from_pretrained(tiny_seq2seq_dir).eval()


def test_paper_sampling_defaults_and_alpha_table():
    s = SamplingSettings()
    assert (s.top_k, s.top_p, s.temperature, s.repetition_penalty, s.do_sample) == (10, 0.9, 0.5, 1.03, True)
    assert DEFAULT_ALPHA["Question"] == 0 and DEFAULT_ALPHA["Providing Suggestions"] == 0.75
    assert DEFAULT_ALPHA["Others"] == 0.375 and len(DEFAULT_ALPHA) == 8
    assert parse_alpha("0") == {k: 0.0 for k in STRATEGIES}
    assert parse_alpha("questions=0.5")["Question"] == 0.5 and parse_alpha("paper") == alpha_table()
    with pytest.raises(InputError):
        parse_alpha("Nope=1")


@pytest.mark.parametrize("seed", [0, 7])
def test_alpha_zero_equals_plain_generate_causal(causal, seed):
    prompt = torch.tensor([[5, 17, 300, 42, 9, 1200]])
    mask = torch.ones_like(prompt)
    torch.manual_seed(seed)
    ref = causal.generate(prompt, attention_mask=mask, pad_token_id=causal.config.pad_token_id,
                          eos_token_id=causal.config.eos_token_id, **SETTINGS.generate_kwargs())[:, prompt.shape[1]:]
    torch.manual_seed(seed)
    step_p = CausalStepper(causal, mask)
    step_d = CausalStepper(causal, torch.ones(1, 3, dtype=torch.long))
    logits_d = step_d(torch.tensor([[5, 17, 300]]))
    ours = sample_loop(step_p, step_d, step_p(prompt), logits_d, prompt, torch.zeros(1), SETTINGS,
                       causal.config.eos_token_id, causal.config.pad_token_id)
    assert ours.tolist() == ref.tolist()


def test_alpha_zero_equals_plain_generate_seq2seq(seq2seq):
    src = torch.tensor([[5, 17, 300, 42, 9, 1200, 2]])
    mask = torch.ones_like(src)
    torch.manual_seed(3)
    ref = seq2seq.generate(src, attention_mask=mask, **SETTINGS.generate_kwargs())[:, 1:]
    torch.manual_seed(3)
    memory = seq2seq.get_encoder()(input_ids=src, attention_mask=mask).last_hidden_state

    def decode(mem, m, **kw):
        from transformers.modeling_outputs import BaseModelOutput

        return seq2seq(encoder_outputs=BaseModelOutput(last_hidden_state=mem), attention_mask=m, **kw)

    step = Seq2SeqStepper(decode, memory, mask)
    start = torch.tensor([[seq2seq.config.decoder_start_token_id]])
    ours = sample_loop(step, None, step(start), None, start, torch.zeros(1), SETTINGS,
                       seq2seq.config.eos_token_id, seq2seq.config.pad_token_id)
    assert ours.tolist() == ref.tolist()


def test_positive_alpha_combines_two_independent_passes(causal):
    """Each step's logits = (1+α)·l_p − α·l_d, with l_p/l_d recomputed from scratch (no cache) per step."""
    alpha = torch.tensor([0.75, 0.375])
    prompt_p = torch.tensor([[0, 5, 17, 300, 42, 9], [11, 12, 13, 14, 15, 16]])  # row 0 left-padded
    mask_p = torch.tensor([[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    prompt_d = torch.tensor([[0, 0, 42, 9], [13, 14, 15, 16]])
    mask_d = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    record: list[torch.Tensor] = []
    torch.manual_seed(0)
    step_p, step_d = CausalStepper(causal, mask_p), CausalStepper(causal, mask_d)
    settings = SamplingSettings(max_new_tokens=6, temperature=1.0, top_k=0, top_p=1.0)  # let any token come
    eos = -1  # never stop early: every step is checked
    new = sample_loop(step_p, step_d, step_p(prompt_p), step_d(prompt_d), prompt_p, alpha, settings, eos,
                      causal.config.pad_token_id, record=record)
    assert len(record) == new.shape[1] == 6

    def full_logits(prompt, mask, upto):
        ids = torch.cat([prompt, new[:, :upto]], dim=1)
        m = torch.cat([mask, torch.ones_like(new[:, :upto])], dim=1)
        pos = (m.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            return causal(input_ids=ids, attention_mask=m, position_ids=pos).logits[:, -1].float()

    for t, combined in enumerate(record):
        l_p, l_d = full_logits(prompt_p, mask_p, t), full_logits(prompt_d, mask_d, t)
        expected = (1 + alpha[:, None]) * l_p - alpha[:, None] * l_d
        assert torch.allclose(combined, expected, atol=1e-4), t
        assert not torch.allclose(l_p, l_d, atol=1e-3)  # the two conditions really differ


def test_strategy_step_picks_alpha_of_predicted_strategy(causal):
    strategy_ids = list(range(100, 108))
    alpha_of = torch.tensor([alpha_table()[s] for s in STRATEGIES])
    prompt = torch.tensor([[5, 17, 300, 42]])
    mask = torch.ones_like(prompt)
    with torch.no_grad():
        first = causal(input_ids=prompt).logits[:, -1, strategy_ids]
    torch.manual_seed(0)
    out = strategy_then_sample(CausalStepper(causal, mask), prompt, CausalStepper(causal, mask[:, :2]),
                               prompt[:, :2], prompt, strategy_ids, alpha_of, SETTINGS, causal.config.eos_token_id,
                               causal.config.pad_token_id)
    pred = int(first.argmax(-1))
    assert int(out["strategy"]) == pred and float(out["alpha"]) == float(alpha_of[pred])
    forced = strategy_then_sample(CausalStepper(causal, mask), prompt, None, None, prompt, strategy_ids, alpha_of,
                                  SETTINGS, causal.config.eos_token_id, causal.config.pad_token_id,
                                  forced=torch.tensor([5]))
    assert int(forced["strategy"]) == 5


def test_any_of_several_stop_tokens_ends_a_row(causal):
    prompt = torch.tensor([[5, 17, 300, 42]])
    step = CausalStepper(causal, torch.ones_like(prompt))
    greedy = SamplingSettings(max_new_tokens=6, do_sample=False, repetition_penalty=1.0)
    first = int(step(prompt).argmax(-1))
    step = CausalStepper(causal, torch.ones_like(prompt))
    out = sample_loop(step, None, step(prompt), None, prompt, torch.zeros(1), greedy, [-5, first], 0)
    assert out.tolist() == [[first]]


def test_strategy_tokens_are_banned_after_the_first_step(causal):
    """After the strategy token, no strategy token is ever emitted, even where the model prefers one;
    with α = 0 this is plain `generate` with `bad_words_ids` (the authors' code)."""
    prompt = torch.tensor([[5, 17, 300, 42]])
    start = torch.cat([prompt, torch.tensor([[100]])], dim=1)  # the prompt + the (forced) strategy token
    plain = dict(attention_mask=torch.ones_like(start), pad_token_id=causal.config.pad_token_id, eos_token_id=None,
                 max_new_tokens=8, do_sample=False, repetition_penalty=1.0)
    free = causal.generate(start, **plain)[0, start.shape[1]:].tolist()
    preferred = list(dict.fromkeys(t for t in free if t != 100))[:7]  # what the model would say: make them strategies
    strategy_ids = [100] + preferred + [i for i in range(101, 120) if i not in preferred][: 7 - len(preferred)]
    greedy = SamplingSettings(max_new_tokens=8, do_sample=False, repetition_penalty=1.0)
    out = strategy_then_sample(CausalStepper(causal, torch.ones_like(prompt)), prompt, None, None, prompt,
                               strategy_ids, torch.zeros(8), greedy, -1, causal.config.pad_token_id,
                               forced=torch.tensor([0]))
    assert not set(out["tokens"][0].tolist()) & set(strategy_ids)
    ref = causal.generate(start, bad_words_ids=[[i] for i in strategy_ids], **plain)[:, start.shape[1]:]
    assert out["tokens"].tolist() == ref.tolist()
