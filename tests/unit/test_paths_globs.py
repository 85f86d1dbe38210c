"""GitHub Actions filter patterns: every row of GitHub's "Filter pattern cheat sheet", then the edges.

The cheat-sheet rows are the published contract (workflow syntax reference, "Patterns to match file
paths" and the special-character list); the other rows pin down what the cheat sheet implies for
paths it does not show (``*`` never crossing ``/``, dot files, escapes) and the ordered ``!`` rule.
"""

from __future__ import annotations

import re

import pytest

from kfp_triggers.interceptors.globs import (
    PatternError,
    compile_pattern,
    compile_patterns,
    path_rule,
    selected,
)

CHEAT_SHEET = [
    ("*", "README.md", True),
    ("*", "server.rb", True),
    ("*.jsx?", "page.js", True),
    ("*.jsx?", "page.jsx", True),
    ("**", "all/the/files.md", True),
    ("*.js", "app.js", True),
    ("*.js", "index.js", True),
    ("**.js", "index.js", True),
    ("**.js", "js/index.js", True),
    ("**.js", "src/js/app.js", True),
    ("docs/*", "docs/README.md", True),
    ("docs/*", "docs/file.txt", True),
    ("docs/**", "docs/README.md", True),
    ("docs/**", "docs/mona/octocat.txt", True),
    ("docs/**/*.md", "docs/README.md", True),
    ("docs/**/*.md", "docs/mona/hello-world.md", True),
    ("docs/**/*.md", "docs/a/markdown/file.md", True),
    ("**/docs/**", "docs/hello.md", True),
    ("**/docs/**", "dir/docs/my-file.txt", True),
    ("**/docs/**", "space/docs/plan/space.doc", True),
    ("**/README.md", "README.md", True),
    ("**/README.md", "js/README.md", True),
    ("**/*src/**", "a/src/app.js", True),
    ("**/*src/**", "my-src/code/js/app.js", True),
    ("**/*-post.md", "my-post.md", True),
    ("**/*-post.md", "path/their-post.md", True),
    ("**/migrate-*.sql", "migrate-10909.sql", True),
    ("**/migrate-*.sql", "db/migrate-v1.0.sql", True),
    ("**/migrate-*.sql", "db/sept/migrate-v1.sql", True),
    ("Octo*", "Octocat", True),
    ("[CB]at", "Cat", True),
    ("[CB]at", "Bat", True),
    ("[1-2]00", "100", True),
    ("[1-2]00", "200", True),
    ("v[12].[0-9]+.[0-9]+", "v1.10.1", True),
    ("v[12].[0-9]+.[0-9]+", "v2.0.0", True),
]

EDGES = [
    ("*", "docs/README.md", False),  # * never crosses /
    ("*.js", "src/app.js", False),
    ("docs/*", "docs/mona/octocat.txt", False),
    ("docs/**", "docs", False),  # a pattern matches the whole path
    ("docs", "docs/a.md", False),
    ("docs/", "docs/a.md", False),
    ("src", "src", True),
    ("*.md", "README.MD", False),  # case-sensitive
    ("*", ".gitignore", True),  # dot files are ordinary
    ("**", ".github/workflows/ci.yml", True),
    (".github/**", ".github/workflows/ci.yml", True),
    ("*.jsx?", "page.jsxx", False),
    ("*.jsx?", "page.j", False),
    ("a+b", "aaab", True),
    ("a+b", "b", False),
    ("[CB]at", "cat", False),
    ("[a-c]", "d", False),
    ("a.b", "axb", False),  # . is literal
    ("f(x)|y", "f(x)|y", True),  # regex characters are literal
    ("\\*.md", "*.md", True),  # \ makes the next character literal
    ("\\*.md", "a.md", False),
    ("what\\?", "what?", True),
    ("a!b", "a!b", True),  # ! is special only first
    ("a**/b", "a/b", True),  # ** inside a segment is any run, / included
    ("a**/b", "ax/y/b", True),
    ("a**/b", "ab", False),  # ...but never zero directories there
    ("docs/**/*.md", "docs.md", False),
    ("**/README.md", "xREADME.md", False),
]


@pytest.mark.parametrize(("pattern", "path", "want"), CHEAT_SHEET + EDGES)
def test_pattern_matches_whole_path(pattern: str, path: str, want: bool) -> None:
    assert compile_pattern(pattern).matches(path) is want


NEGATION = [
    (["*.md", "!README.md"], "hello.md", True),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "docs/hello.md", False),
    (["*.md", "!README.md", "README*"], "README.md", True),  # a later positive re-includes
    (["*.md", "!README.md", "README*"], "README.doc", True),
    (["sub-project/**", "!sub-project/docs/**"], "sub-project/src/index.js", True),
    (["sub-project/**", "!sub-project/docs/**"], "sub-project/docs/readme.md", False),
    (["!sub-project/docs/**", "sub-project/**"], "sub-project/docs/readme.md", True),  # order matters
    (["docs/**"], "src/a.py", False),  # no pattern matches: not selected
]


@pytest.mark.parametrize(("patterns", "path", "want"), NEGATION)
def test_last_matching_pattern_decides(patterns: list[str], path: str, want: bool) -> None:
    assert selected(compile_patterns(patterns), path) is want


BAD = [
    ("", "must not be empty"),
    ("!", "'!' must be followed by a pattern"),
    ("?x", "'?' at position 1 has no character before it"),
    ("*+", "'+' at position 2 has no character before it"),
    ("a??", "'?' at position 3 has no character before it"),
    ("[abc", "'[' at position 1 is never closed"),
    ("[]", "lists no characters"),
    ("[._]", "may hold only letters, digits and ranges"),
    ("[!a]", "may hold only letters, digits and ranges"),
    ("[z-a]", "range 'z-a'"),
    ("[a-Z]", "range 'a-Z'"),
    ("x\\", "escapes nothing"),
]


@pytest.mark.parametrize(("pattern", "message"), BAD)
def test_undefined_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_pattern(pattern)


def test_paths_selects_and_paths_ignore_excludes() -> None:
    paths = path_rule(["training/**", "!training/**/*.md"], None)
    assert paths is not None
    assert [paths.keeps(p) for p in ("training/train.py", "training/README.md", "docs/a.md")] == [
        True,
        False,
        False,
    ]
    ignore = path_rule(None, ["docs/**", "**.md"])
    assert ignore is not None
    assert [ignore.keeps(p) for p in ("docs/a.txt", "README.md", "src/a.py")] == [False, False, True]


def test_paths_ignore_with_a_negation_takes_a_path_back() -> None:
    ignore = path_rule(None, ["docs/**", "!docs/api/**"])
    assert ignore is not None
    assert ignore.keeps("docs/api/v1.yaml") is True
    assert ignore.keeps("docs/guide.md") is False


@pytest.mark.parametrize(
    ("paths", "ignore", "message"),
    [
        (["a"], ["b"], "cannot both be given"),
        ([], None, "paths is empty"),
        (None, [], "pathsIgnore is empty"),
        (["!a", "!b"], None, "paths has only '!' patterns"),
        (["ok/**", "[x"], None, "paths: pattern '[x': '[' at position 1 is never closed"),
    ],
)
def test_github_actions_rules_for_the_two_lists(
    paths: list[str] | None, ignore: list[str] | None, message: str
) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        path_rule(paths, ignore)


def test_no_lists_means_no_rule() -> None:
    assert path_rule(None, None) is None
