from inventory.pricing import apply_discount


def test_no_discount():
    assert apply_discount(20.0, 0) == 20.0


def test_discount():
    assert apply_discount(80.0, 25) == 60.0


def test_rounding():
    assert apply_discount(9.99, 10) == 8.99
