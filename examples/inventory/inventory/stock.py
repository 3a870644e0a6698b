"""Stock keeping for a small shop."""


def total_units(counts):
    """Return the total number of units in a list of stock counts.

    >>> total_units([3, 4, 5])
    12
    >>> total_units([])
    0
    """
    ...


def running_max(values):
    """Return a list where each element is the largest value seen so far.

    >>> running_max([1, 3, 2, 5, 4])
    [1, 3, 3, 5, 5]
    >>> running_max([])
    []
    """
    raise NotImplementedError


def restock_needed(levels, threshold):
    """Return the names whose level is below the threshold, sorted alphabetically.

    >>> restock_needed({"apples": 3, "pears": 10, "figs": 1}, 5)
    ['apples', 'figs']
    """
    pass
