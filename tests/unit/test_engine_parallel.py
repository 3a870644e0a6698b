"""The bookkeeping of decoding several sequences in one shared cache."""

from verifix.engine.parallel import common_prefix, fits


def test_the_common_prefix_of_token_lists():
    assert common_prefix([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert common_prefix([[1, 2, 3], [1, 2, 3]]) == 3
    assert common_prefix([[7, 2], [1, 2]]) == 0
    assert common_prefix([[1, 2, 3]]) == 3


def test_the_prefix_is_counted_once_when_checking_the_cache_fits():
    prompts = [[1] * 90 + [2] * 10, [1] * 90 + [3] * 10]
    # 90 shared cells + 2 x (10 own prompt tokens + 50 answer tokens) = 210
    assert fits(prompts, [50, 50], n_ctx=210)
    assert not fits(prompts, [50, 51], n_ctx=210)
