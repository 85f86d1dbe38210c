"""Go's float-to-text conversions, which CEL results and Tekton's JSON output depend on.

Python's ``repr`` and Go's ``strconv`` both produce the shortest decimal that round-trips, so
only the layout differs: ``%g`` switches to an exponent at 1e21 in JSON but at 1e6 in ``%g``, Go
prints two-digit exponents (``1e+06``) and never a trailing ``.0``.
"""

from __future__ import annotations

import math


def _shortest(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(x)`` and the decimal point position (0.DIGITS x 10^dp)."""
    text = repr(abs(x))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    dp = len(whole) + (int(exp) if exp else 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _special(x: float, plus_inf: str) -> str | None:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return plus_inf if x > 0 else "-Inf"
    return None


def _fixed(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _exponent(digits: str, dp: int, min_exp_digits: int = 2) -> str:
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{mant}e{sign}{abs(exp):0{min_exp_digits}d}"


def format_f(x: float) -> str:
    """``strconv.FormatFloat(x, 'f', -1, 64)``: shortest digits, never an exponent."""
    special = _special(x, "+Inf")
    if special:
        return special
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    digits, dp = _shortest(x)
    return ("-" if x < 0 else "") + _fixed(digits, dp)


def format_g(x: float) -> str:
    """Go's ``%g`` / ``FormatFloat(x, 'g', -1, 64)``, as CEL's ``string(double)`` uses."""
    special = _special(x, "+Inf")
    if special:
        return special
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    digits, dp = _shortest(x)
    exp = dp - 1
    body = _exponent(digits, dp) if exp < -4 or exp >= 6 else _fixed(digits, dp)
    return ("-" if x < 0 else "") + body


def format_json(x: float) -> str:
    """A finite double as ``encoding/json`` and protobuf's JSON mapping print it (ES6 style)."""
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    digits, dp = _shortest(x)
    a = abs(x)
    text = _exponent(digits, dp, 1) if a < 1e-6 or a >= 1e21 else _fixed(digits, dp)
    return ("-" if x < 0 else "") + text
