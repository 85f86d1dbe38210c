"""Go's ``encoding/json``: the text ``json.Marshal`` writes and what ``json.Unmarshal`` reads.

Tekton renders binding values with ``json.Marshal`` and decodes bodies with ``json.Unmarshal``.
Reproducing both byte for byte needs Go's rules, which differ from Python's ``json`` module:

* strings escape ``<``, ``>``, ``&``, U+2028 and U+2029; control characters use ``\\b \\f \\n \\r
  \\t`` or ``\\u00xx`` (lower-case hex); other non-ASCII characters are written raw; text that is
  not valid Unicode (a lone surrogate, Python's stand-in for invalid UTF-8) becomes ``\\ufffd``;
* a float64 is written like ``strconv.FormatFloat(f, 'f', -1, 64)`` unless its magnitude is below
  1e-6 or at least 1e21, where the ``'e'`` form is used with a one-digit negative exponent
  (``1e-7``, ``1e+21``); ``-0`` stays ``-0``; NaN and infinities are errors;
* map keys are sorted, structs keep their field order, separators are compact;
* decoding into ``interface{}`` makes every number a float64 (so 2^53+1 reads as
  9007199254740992) and a number beyond float64's range an error; each byte of invalid UTF-8
  inside a string becomes U+FFFD, and so does each lone ``\\ud800``-style surrogate escape;
* every error carries Go's message: syntax errors come from Go's scanner (:mod:`._jsonscan`),
  type errors read ``json: cannot unmarshal array into Go value of type map[string]interface {}``.

Python's C decoder does the decoding; when it refuses a document, :mod:`._jsonlocate` finds Go's
error (with the C decoder's help, so a large document costs no more than decoding it).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from kfp_triggers.golang import fmt
from kfp_triggers.golang.fmt import decode_utf8

__all__ = [
    "MAP",
    "GoJsonError",
    "JsonSyntaxError",
    "NestingError",
    "UnmarshalTypeError",
    "escape_string",
    "format_float",
    "kind",
    "marshal",
    "syntax_error",
    "type_error",
    "unmarshal",
    "unmarshal_object",
]

#: The Go type Tekton decodes bodies into.
MAP: Final = "map[string]interface {}"

#: How numbers decode: ``float64`` as into ``interface{}``; ``int64`` keeps integers that fit an
#: int64 exact, as Kubernetes' unstructured decoding does; ``exact`` keeps Python's own reading
#: (unbounded ints, no range errors), for values Go decodes into typed fields or passes through.
Numbers = Literal["float64", "int64", "exact"]


class GoJsonError(ValueError):
    """Go's ``encoding/json`` refused a value or a document; ``str(error)`` is Go's message."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class JsonSyntaxError(GoJsonError):
    """``*json.SyntaxError``: ``offset`` is Go's, the bytes read when the error was found."""


class UnmarshalTypeError(GoJsonError):
    """``*json.UnmarshalTypeError``: a value does not fit the Go type it is decoded into."""


class NestingError(GoJsonError):
    """Valid JSON nested deeper than Python can build (Go accepts up to 10000 levels)."""


# --- encoding ---------------------------------------------------------------------------------

# Characters Go's encoder does not write verbatim (HTML-safe mode, the json.Marshal default).
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "\\ufffd"
    return f"\\u{code:04x}"


def escape_string(text: str) -> str:
    """Go's JSON encoding of ``text`` without the surrounding quotes."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(_escape, text)


def format_float(value: float) -> str:
    """A float64 as ``encoding/json`` writes it.

    Raises:
        GoJsonError: ``value`` is NaN or infinite (Go's "unsupported value").
    """
    if not math.isfinite(value):
        raise GoJsonError(f"json: unsupported value: {fmt.format_g(value)}")
    magnitude = abs(value)
    if magnitude < 1e16 and value.is_integer():
        return "-0" if value == 0 and math.copysign(1.0, value) < 0 else str(int(value))
    if 1e-6 <= magnitude < 1e21:
        return fmt.format_f(value)
    text = fmt.format_e(value)
    if text[-4:-1] == "e-0":  # Go cleans e-07 up to e-7
        text = text[:-2] + text[-1]
    return text


def marshal(value: Any) -> str:
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
        out('"' + escape_string(value) + '"')
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, int):
        out(str(int(value)))
    elif isinstance(value, float):
        out(format_float(value))
    elif isinstance(value, Mapping):
        out("{")
        for index, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise GoJsonError(f"json: unsupported map key type {type(key).__name__}")
            out(',"' if index else '"')
            out(escape_string(key) + '":')
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
            out(escape_string(name) + '":')
            _encode(field, out)
        out("}")
    else:
        raise GoJsonError(f"json: unsupported type: {type(value).__name__}")


# --- decoding ---------------------------------------------------------------------------------


class _RefusedError(ValueError):
    """Raised inside Python's decoder where Go refuses a number or a constant."""


def _float64(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _RefusedError(text)
    return value


def _int64(text: str) -> int | float:
    if len(text) <= 20:
        value = int(text)
        if -(2**63) <= value < 2**63:
            return value
    return _float64(text)


def _exact_int(text: str) -> int | float:
    return int(text) if len(text) <= 4000 else float(text)  # Python refuses int() past 4300 digits


def _constant(name: str) -> Any:
    raise _RefusedError(name)  # NaN, Infinity and -Infinity are not JSON for Go


# A lone surrogate comes from a \ud800-\udfff escape, or from text input that holds one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def syntax_error(data: bytes) -> JsonSyntaxError | None:
    """Go's ``checkValid``: the syntax error ``json.Unmarshal`` would report first, or None.

    It costs about what decoding costs, so a caller that only needs the verdict on a document
    likely to be invalid can ask this first and decode (with ``valid=True``) only when it is None.
    """
    from kfp_triggers.golang import _jsonlocate  # its patterns compile on an error path's first use

    found = _jsonlocate.syntax_error(data)
    return JsonSyntaxError(*found) if found is not None else None


def unmarshal(data: bytes | str, *, numbers: Numbers = "float64", valid: bool = False) -> Any:
    """Decode a document as ``json.Unmarshal`` into ``interface{}`` does.

    ``data`` is the document's bytes, or text (whose lone surrogates each become one U+FFFD).
    ``numbers`` says how numbers decode (see :data:`Numbers`). ``valid`` says the caller has
    already found no syntax error with :func:`syntax_error` (an error is then not looked for again).

    Raises:
        JsonSyntaxError: the document is not JSON (Go's message and offset).
        UnmarshalTypeError: a number is beyond float64 (unless ``numbers`` is ``exact``).
        NestingError: the document is valid but nested too deeply to build here.
    """
    text = data if isinstance(data, str) else decode_utf8(data)
    # Each number goes through a check for float64's range: a call per literal is far cheaper
    # than scanning the whole text for a literal that might overflow.
    parse_int = {"float64": _float64, "int64": _int64, "exact": _exact_int}[numbers]
    number: Callable[[str], Any] = float if numbers == "exact" else _float64
    try:
        value = json.loads(text, parse_int=parse_int, parse_float=number, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        raise _explain(raw, numbers != "exact", exc, valid) from None
    if ("\\u" in text and _SURROGATE_ESCAPE.search(text) is not None) or (
        isinstance(data, str) and not _encodable(text)
    ):
        value = _drop_surrogates(value)
    return value


def _explain(raw: bytes, check_numbers: bool, exc: Exception, valid: bool) -> GoJsonError:
    """Go's error for a document Python's decoder refused (in the order Go checks).

    Go checks the whole document's syntax first, then decodes it and reports the first number a
    float64 cannot hold; the decoder here refused either at that number (``_RefusedError``), at a
    syntax error, or at the depth Python's recursion allows. ``valid`` says the syntax is known
    to be valid already (see :func:`syntax_error`).
    """
    syntax = None if valid else syntax_error(raw)
    if syntax is not None:
        return syntax
    if check_numbers:
        from kfp_triggers.golang import _jsonlocate

        huge = str(exc) if isinstance(exc, _RefusedError) else _jsonlocate.first_huge_number(raw)
        if huge is not None:
            return type_error(f"number {huge}", "float64")
    if isinstance(exc, RecursionError):
        return NestingError("json: document nested too deeply to decode")
    return GoJsonError(f"json: {exc}")  # a document Go accepts but Python refused: not expected


def _encodable(text: str) -> bool:
    """Whether ``text`` has no lone surrogate (faster than searching for one)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _drop_surrogates(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (from ``\\ud800``-style escapes) with U+FFFD, like Go."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_drop_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_drop_surrogates(k): _drop_surrogates(v) for k, v in value.items()}
    return value


def kind(value: object) -> str:
    """The JSON kind Go names in an ``UnmarshalTypeError`` (``string``, ``number``, ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def type_error(what: str, go_type: str, field: str = "") -> UnmarshalTypeError:
    """Go's ``UnmarshalTypeError`` for a value of kind ``what`` decoded into ``go_type``.

    ``field`` is ``Struct.path.to.field`` when the value was a struct field's.
    """
    into = f"Go struct field {field}" if field else "Go value"
    return UnmarshalTypeError(f"json: cannot unmarshal {what} into {into} of type {go_type}")


_TOP_KIND = {ord("{"): "object", ord("["): "array", ord('"'): "string", ord("t"): "bool", ord("f"): "bool"}
_TOP_KIND[ord("n")] = "null"


def unmarshal_object(
    data: bytes | str, go_type: str = MAP, *, numbers: Numbers = "float64", valid: bool = False
) -> dict[str, Any]:
    """Decode a document as ``json.Unmarshal`` into a Go map does: ``null`` gives an empty map.

    Raises:
        GoJsonError: as :func:`unmarshal`, or the document is not an object (Go then reports the
            mismatch without reading the value, so a huge number inside it is no error).
    """
    try:
        value = unmarshal(data, numbers=numbers, valid=valid)
    except (UnmarshalTypeError, NestingError):
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        stripped = raw.lstrip(b" \t\r\n")
        top = _TOP_KIND.get(stripped[0], "number") if stripped else "null"
        if top == "object":
            raise
        raise type_error(top, go_type) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise type_error(kind(value), go_type)
    return value
