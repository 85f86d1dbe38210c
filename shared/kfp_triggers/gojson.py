"""JSON text exactly as Go's ``encoding/json`` writes and reads it.

Tekton renders binding values with ``json.Marshal`` and decodes bodies with ``json.Unmarshal`` into
``interface{}``. Reproducing its output byte for byte needs Go's rules, which differ from Python's
``json`` module:

* strings escape ``<``, ``>``, ``&``, U+2028 and U+2029; control characters use ``\\b \\f \\n \\r \\t``
  or ``\\u00xx`` (lower-case hex); other non-ASCII characters are written raw; text that is not
  valid Unicode (a lone surrogate, Python's stand-in for invalid UTF-8) becomes ``\\ufffd``;
* every decoded JSON number is a float64, formatted like ``strconv.FormatFloat(f, 'f', -1, 64)``
  unless its magnitude is below 1e-6 or at least 1e21, where the ``'e'`` form is used with a
  one-digit negative exponent (``1e-7``, ``1e+21``); ``-0`` stays ``-0``;
* map keys are sorted; compact separators.
"""

from __future__ import annotations

import base64
import codecs
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

__all__ = ["GoJsonError", "decode_go_utf8", "go_float", "go_json", "go_json_string", "loads_go"]


class GoJsonError(ValueError):
    """A value cannot be written as JSON, or text is not JSON Go would accept."""


# Characters Go's encoder does not write verbatim (HTML-safe mode, the json.Marshal default).
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
# A surrogate escape (\ud800-\udfff) or a raw surrogate: the only ways to get a lone one.
_MAYBE_SURROGATE = re.compile("\\\\u[dD][89a-fA-F]|[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "\\ufffd"
    return f"\\u{code:04x}"


def go_json_string(text: str) -> str:
    """Return the body of Go's JSON encoding of ``text``, without the surrounding quotes."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(_escape, text)


def go_float(value: float) -> str:
    """Format a float64 as Go's encoding/json does.

    Raises:
        GoJsonError: ``value`` is NaN or infinite (Go refuses them with "unsupported value").
    """
    if math.isnan(value) or math.isinf(value):
        raise GoJsonError(f"json: unsupported value: {value}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    magnitude = abs(value)
    if magnitude < 1e16 and value.is_integer():
        return str(int(value))
    # repr() gives the shortest digits that round-trip, the same digits Go's 'f'/'e' with -1 use.
    exact = Decimal(repr(value)).normalize()
    if 1e-6 <= magnitude < 1e21:
        return format(exact, "f")
    sign, digits, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    power = exponent + len(text) - 1
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power)}"


def go_json(value: Any) -> str:
    """Encode ``value`` as compact JSON text, byte for byte as Go's ``json.Marshal`` would.

    Accepts ``None``, ``bool``, ``int`` (written exactly, like a Go int64), ``float`` (float64
    formatting), ``str``, ``bytes`` (base64, like Go's ``[]byte``), sequences (lists, tuples) and
    mappings with string keys (sorted). Objects with a ``go_json_fields()`` method (Go structs)
    are written as objects with their fields in declaration order.

    Raises:
        GoJsonError: a float is NaN or infinite, or a value has a type JSON cannot hold.
    """
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


def _encode(value: Any, out: Callable[[str], object]) -> None:
    if value is None:
        out("null")
    elif isinstance(value, str):
        out('"' + go_json_string(value) + '"')
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, int):
        out(str(int(value)))
    elif isinstance(value, float):
        out(go_float(value))
    elif isinstance(value, Mapping):
        out("{")
        for index, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise GoJsonError(f"json: unsupported map key type {type(key).__name__}")
            out(',"' if index else '"')
            out(go_json_string(key) + '":')
            _encode(value[key], out)
        out("}")
    elif isinstance(value, list | tuple):
        out("[")
        for index, item in enumerate(value):
            if index:
                out(",")
            _encode(item, out)
        out("]")
    elif isinstance(value, bytes | bytearray):
        out('"' + base64.b64encode(bytes(value)).decode("ascii") + '"')
    elif hasattr(value, "go_json_fields"):
        out("{")
        for index, (name, field) in enumerate(value.go_json_fields()):
            out(',"' if index else '"')
            out(go_json_string(name) + '":')
            _encode(field, out)
        out("}")
    else:
        raise GoJsonError(f"json: unsupported type: {type(value).__name__}")


def _replace_per_byte(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: one U+FFFD per invalid byte, as Go's ``utf8.DecodeRune`` yields."""
    if isinstance(exc, UnicodeDecodeError):
        return "\ufffd", exc.start + 1
    raise exc


codecs.register_error("kfp_triggers.go_utf8", _replace_per_byte)


def decode_go_utf8(data: bytes) -> str:
    """Decode UTF-8 the way Go reads string bytes: each invalid byte becomes one U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "kfp_triggers.go_utf8")


def _reject_constant(name: str) -> Any:
    raise GoJsonError(f"invalid character {name[0]!r} looking for beginning of value")


def _float64(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise GoJsonError(f"cannot unmarshal number {text} into a float64 (out of range)")
    return value


def _int64_or_float(text: str) -> int | float:
    value = int(text)
    if -(2**63) <= value < 2**63:
        return value
    return _float64(text)


# Every literal that overflows a float64 has a 290+ digit run or a 2+ digit positive exponent;
# only texts matching this need the (slower) overflow check.
_MAYBE_HUGE = re.compile(r"[0-9]{290}|[eE]\+?0*[1-9][0-9]")


def loads_go(text: str, *, float64_numbers: bool = True) -> Any:
    """Parse JSON text with Go's acceptance rules.

    ``NaN``/``Infinity`` are rejected, out-of-range numbers are errors, and lone ``\\uD8xx``
    surrogate escapes become U+FFFD. With ``float64_numbers`` every number is a float, as in
    ``json.Unmarshal`` into ``interface{}`` (so 2^53+1 reads as 9007199254740992); otherwise
    integers that fit an int64 stay exact, as Kubernetes' unstructured decoding keeps them.

    Raises:
        GoJsonError: the text is not JSON Go would accept (the message says where and why).
    """
    huge = _MAYBE_HUGE.search(text) is not None
    number: Callable[[str], Any] = _float64 if huge else float
    try:
        value = json.loads(
            text,
            parse_int=number if float64_numbers else _int64_or_float,
            parse_float=number,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise GoJsonError(f"{exc.msg.removesuffix(' at')} ({where})") from exc
    except RecursionError as exc:
        raise GoJsonError("JSON nested too deeply") from exc
    if _MAYBE_SURROGATE.search(text) is not None:
        value = _drop_surrogates(value)
    return value


def _drop_surrogates(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (from ``\\ud800``-style escapes) with U+FFFD, like Go."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_drop_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_drop_surrogates(k): _drop_surrogates(v) for k, v in value.items()}
    return value
