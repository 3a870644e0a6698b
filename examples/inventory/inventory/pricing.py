"""Prices and discounts."""


def apply_discount(price, percent):
    """Return `price` reduced by `percent` percent, rounded to 2 decimals."""
    return round(price * (100 - percent) // 100, 2)


def bulk_price(unit_price, quantity):
    """Return the price of `quantity` units: 10% off for 10 units or more."""
    total = unit_price * quantity
    if quantity >= 10:
        total = apply_discount(total, 10)
    return round(total, 2)
