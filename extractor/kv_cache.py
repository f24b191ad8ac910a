"""A key/value cache for greedy decoding that writes each step's keys and values into room it set aside.

Why: transformers' `DynamicLayer` concatenates every step (`torch.cat` of the whole cache), so a batch of 64 rows
with a 175-token shared prefix copies hundreds of MB per generated token; on a CPU that copying costs about as much as
the model's own arithmetic. `RoomyLayer` holds a buffer with spare positions, writes the new step into it and hands
the model a view of the filled part: the same keys and values, so the same logits.
"""
from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class RoomyLayer(DynamicLayer):
    """A `DynamicLayer` that grows into a buffer of `room` spare positions (more room is added when it runs out)."""

    def __init__(self, room: int):
        super().__init__()
        self.room = room
        self.length = 0
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    @classmethod
    def holding(cls, layer: DynamicLayer, room: int) -> "RoomyLayer":
        """A roomy layer holding what `layer` holds (copied once, with `room` spare positions after it)."""
        out = cls(room)
        if layer.is_initialized and layer.keys is not None and layer.keys.numel():
            out.update(layer.keys, layer.values)
        return out

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        if self._keys is None or self.length + n > self._keys.shape[-2]:
            self._keys, self._values = (self._grown(self._keys, key_states, n),
                                        self._grown(self._values, value_states, n))
        self._keys[..., self.length:self.length + n, :] = key_states
        self._values[..., self.length:self.length + n, :] = value_states
        self.length += n
        self.keys, self.values = self._keys[..., :self.length, :], self._values[..., :self.length, :]
        return self.keys, self.values

    def _grown(self, buffer: torch.Tensor | None, like: torch.Tensor, n: int) -> torch.Tensor:
        shape = (*like.shape[:-2], self.length + n + self.room, like.shape[-1])
        grown = like.new_empty(shape)
        if buffer is not None and self.length:
            grown[..., :self.length, :] = buffer[..., :self.length, :]
        return grown

    def get_seq_length(self) -> int:
        return self.length

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.length:
            self._keys = self._keys.repeat_interleave(repeats, dim=0)
            self._values = self._values.repeat_interleave(repeats, dim=0)
            self.keys, self.values = self._keys[..., :self.length, :], self._values[..., :self.length, :]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.length:
            self._keys, self._values = self._keys[indices, ...], self._values[indices, ...]
            self.keys, self.values = self._keys[..., :self.length, :], self._values[..., :self.length, :]

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("RoomyLayer is for greedy decoding: it is never cropped")

    def reset(self) -> None:
        self._keys = self._values = None
        self.length = 0
        super().reset()


def with_room(cache: Any, room: int) -> Any:
    """`cache` (a `DynamicCache` of plain full-attention layers) with each layer made a `RoomyLayer`, in place."""
    if any(type(layer) is not DynamicLayer for layer in cache.layers):
        return cache  # sliding-window or other layers keep their own update
    cache.layers[:] = [RoomyLayer.holding(layer, room) for layer in cache.layers]
    return cache
