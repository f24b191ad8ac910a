"""The roomy key/value cache holds exactly what transformers' concatenating cache holds, through every operation the
decode loop uses; the decode loop's answers with it are checked against `generate` in test_extractor_training."""
import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from extractor.kv_cache import RoomyLayer, with_room


def _step(rows: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 3, n, 4, generator=g), torch.randn(rows, 3, n, 4, generator=g)


def test_roomy_layer_matches_the_concatenating_layer_through_growth_selection_and_repeats():
    plain, roomy = DynamicLayer(), RoomyLayer.holding(DynamicLayer(), room=1)  # room 1: it must grow, again and again
    k, v = _step(1, 5, 0)
    for layer in (plain, roomy):
        layer.update(k, v)
        layer.batch_repeat_interleave(4)
    for seed in range(1, 7):
        k, v = _step(4 if seed < 4 else 2, 1, seed)
        if seed == 4:
            for layer in (plain, roomy):
                layer.batch_select_indices(torch.tensor([0, 3]))
        got = [layer.update(k, v) for layer in (plain, roomy)]
        assert torch.equal(got[0][0], got[1][0]) and torch.equal(got[0][1], got[1][1])
        assert plain.get_seq_length() == roomy.get_seq_length() == 5 + seed
    assert roomy._keys.shape[-2] >= roomy.length


def test_with_room_turns_a_filled_cache_into_roomy_layers_holding_the_same():
    cache = DynamicCache()
    k, v = _step(1, 6, 9)
    cache.update(k, v, 0)
    cache.update(v, k, 1)
    with_room(cache, room=8)
    assert all(isinstance(layer, RoomyLayer) for layer in cache.layers)
    assert torch.equal(cache.layers[0].keys, k) and torch.equal(cache.layers[1].keys, v)
    assert cache.get_seq_length() == 6
