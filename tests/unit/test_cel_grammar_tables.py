"""Prebuilt CEL parser tables: loaded from beside the module when shipped there, else the user's cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfp_triggers.cel import grammar


def test_tables_shipped_beside_the_module_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(grammar.PARSER_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    package = tmp_path / "package"
    package.mkdir()
    monkeypatch.setattr(grammar, "__file__", str(package / "grammar.py"))
    user = grammar._cache_file()
    assert isinstance(user, str) and user.startswith(str(tmp_path / "user-cache"))

    shipped = grammar.write_parser_tables(package)
    assert shipped == package / grammar.packaged_cache_name()
    assert shipped.stat().st_size > 10_000
    assert grammar._cache_file() == str(shipped)
    loaded = grammar._build(str(shipped))  # loads the tables: same language as a fresh build
    fresh = grammar._build(False)
    for text in ("a.b[1] + 2 == 3 && !c", "[1, 2,]", "{'k': 1.5e3}.size()", "x.map(y, y * 2)"):
        assert loaded.parse(text) == fresh.parse(text)


def test_the_tables_name_says_which_lark_and_python_they_are_for() -> None:
    import sys

    import lark

    name = grammar.packaged_cache_name()
    assert lark.__version__ in name and f"py{sys.version_info[0]}{sys.version_info[1]}" in name
