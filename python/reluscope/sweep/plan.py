"""``ShardPlan``: items 0 .. n-1 cut into shards of a fixed size, each with its own seed derived
from one root seed, so what a shard computes depends neither on the engine nor on the workers."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Shard(NamedTuple):
    index: int
    start: int  # first item
    stop: int   # one past the last item
    seed: int   # derived from the plan's root seed and the index only

    @property
    def size(self) -> int:
        return self.stop - self.start


class ShardPlan(NamedTuple):
    """n items in ceil(n / shard_size) shards; shard i holds items [i s, min((i + 1) s, n))."""
    items: int
    shard_size: int
    seed: int = 0

    def check(self) -> "ShardPlan":
        """The plan with Python ints (numpy integers converted, so it is stored as JSON and
        compared on resume like any other); ValueError naming a field that is not an integer in
        range."""
        for name, v, low in (("items", self.items, 1), ("shard_size", self.shard_size, 1),
                             ("seed", self.seed, 0)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        return ShardPlan(*map(int, self))

    @property
    def n_shards(self) -> int:
        return -(-self.items // self.shard_size)

    def shard(self, index: int) -> Shard:
        if not 0 <= index < self.n_shards:
            raise IndexError(f"shard {index} of a plan with {self.n_shards} shards")
        start = index * self.shard_size
        seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1, np.uint64)[0]
                   >> np.uint64(1))  # 63 bits: a valid torch seed
        return Shard(index, start, min(start + self.shard_size, self.items), seed)

    def shards(self) -> list[Shard]:
        return [self.shard(i) for i in range(self.n_shards)]
