"""reluscope.sweep.ShardPlan: the shards cover the items once, seeds depend on (root, index)."""
import pytest

from reluscope.sweep import ShardPlan


def test_shards_cover_the_items_and_seeds_are_stable():
    plan = ShardPlan(10, 4, seed=3)
    shards = plan.shards()
    assert [(s.start, s.stop) for s in shards] == [(0, 4), (4, 8), (8, 10)]
    assert [s.size for s in shards] == [4, 4, 2] and plan.n_shards == 3
    assert len({s.seed for s in shards}) == 3
    assert ShardPlan(99, 4, seed=3).shard(1).seed == shards[1].seed  # not on the item count
    assert ShardPlan(10, 4, seed=4).shard(1).seed != shards[1].seed
    assert all(0 <= s.seed < 2 ** 63 for s in shards)


def test_errors():
    for bad in (ShardPlan(0, 4), ShardPlan(4, 0), ShardPlan(4, 2, -1), ShardPlan(4.5, 2)):
        with pytest.raises(ValueError):
            bad.check()
    with pytest.raises(IndexError):
        ShardPlan(4, 2).shard(2)
