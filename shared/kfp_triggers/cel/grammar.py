"""cel-python's CEL grammar as a Lark LALR parser, adjusted to accept cel-go's language.

The grammar file ships with cel-python; it is read directly so that the rest of cel-python (and
its import cost) is not loaded. Building the LALR tables takes about 150 ms; loading them takes
about 15 ms, which matters for a function's cold start. The tables are loaded from a file shipped
beside this module when there is one for this lark and Python version (``make bundle`` builds it
into the intercept bundle, as a fresh Cloud Run instance has no cache), else from the user's own
cache directory, where they are saved after the first build.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from pathlib import Path

import lark

PARSER_CACHE_ENV = "KFPT_CEL_PARSER_CACHE"
"""Set to ``0`` to build the parser tables in every process instead of caching them."""

_PARSERS: list[lark.Lark] = []
_PARSER_LOCK = threading.Lock()


def _literal_words(token: lark.Token) -> lark.Token:
    """cel-python's lexer callback: ``true``/``false`` are literals, not identifiers."""
    if token.value in ("true", "false"):
        return lark.Token.new_borrow_pos("BOOL_LIT", token.value, token)
    return token


def packaged_cache_name() -> str:
    """The file name of parser tables for this lark and Python version (lark checks both on load)."""
    return f"cel-grammar-lark-{lark.__version__}-py{sys.version_info[0]}{sys.version_info[1]}.cache"


def _cache_file() -> str | bool:
    """Where to load (and keep) the built parser tables, or False for nowhere.

    A file shipped beside this module comes first; otherwise a private per-user directory, never a
    shared temp directory, because the file is unpickled on load.
    """
    if os.environ.get(PARSER_CACHE_ENV, "").strip() in ("0", "off", "false"):
        return False
    packaged = Path(__file__).with_name(packaged_cache_name())
    if packaged.is_file():
        return str(packaged)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = base / "kfp-triggers"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK) or directory.stat().st_uid != os.getuid():
            return False
    except OSError:
        return False
    return str(directory / f"cel-grammar-lark-{lark.__version__}.cache")


_CEL_GO_RULES = """
list_items     : expr ("," expr)* [","]
map_items      : expr ":" expr ("," expr ":" expr)* [","]
ESC_IDENT      : /`[_a-zA-Z0-9.\\/ -]+`/
"""


def _cel_go_grammar(grammar: str) -> str:
    """Corrections to cel-python's grammar where it accepts a different language than cel-go.

    cel-go allows a trailing comma in list and map literals (``[1, 2,]``), it does not read
    ``1.`` as a number, so ``1.size()`` is a call on an int rather than a syntax error, and it
    accepts a backtick-quoted field name after a dot (``m.`content-type```; enabled by default
    since cel-go v0.24, so in the v0.30 Tekton v0.37 pins).
    """
    patched = grammar.replace('list_lit       : "[" [exprlist] "]"', 'list_lit       : "[" [list_items] "]"')
    patched = patched.replace('map_lit        : "{" [mapinits] "}"', 'map_lit        : "{" [map_items] "}"')
    patched = patched.replace('FLOAT_LIT      : /-?/ DIGIT+ "." DIGIT* EXPONENT? | ', "FLOAT_LIT      : ")
    patched = patched.replace(
        'member_dot     : member "." IDENT\n', 'member_dot     : member "." (IDENT | ESC_IDENT)\n'
    )
    if patched.count("list_items") != 1 or patched.count("map_items") != 1 or "ESC_IDENT" not in patched:
        return grammar  # a different cel-python grammar: keep it as it is
    return patched + _CEL_GO_RULES


def _build(cache: str | bool) -> lark.Lark:
    spec = importlib.util.find_spec("celpy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cel-python is not installed")
    grammar = (Path(next(iter(spec.submodule_search_locations))) / "cel.lark").read_text()
    return lark.Lark(
        _cel_go_grammar(grammar),
        parser="lalr",
        start="expr",
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": _literal_words},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
        cache=cache,
    )


def parser() -> lark.Lark:
    """cel-python's CEL grammar, loaded without importing the rest of cel-python (built once)."""
    with _PARSER_LOCK:
        if not _PARSERS:
            _PARSERS.append(_build(_cache_file()))
        return _PARSERS[0]


def write_parser_tables(directory: Path) -> Path:
    """Build the parser tables into ``directory`` under :func:`packaged_cache_name` (for bundles)."""
    target = directory / packaged_cache_name()
    target.unlink(missing_ok=True)
    _build(str(target))
    return target
