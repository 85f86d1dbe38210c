"""The settings registry: one declaration per ``KFPT_*`` setting, checked at start, shown and documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kfp_triggers import settings as registry
from kfp_triggers.adapters.notifiers.github_status import DEFAULT_API_URL
from kfp_triggers.adapters.store.base import InvalidStoreUrlError
from kfp_triggers.adapters.store.factory import store_from_env
from kfp_triggers.adapters.store.sqlite import SqliteStore
from kfp_triggers.app.runtime import Settings
from kfp_triggers.errors import SettingError
from tests.conftest import ROOT

PACKAGE = ROOT / "shared" / "kfp_triggers"


def _readme_rows() -> dict[str, list[str]]:
    """The README's settings table, from ``## Settings`` to the next heading: name -> cells."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    rows = {}
    for line in section.splitlines():
        found = re.match(r"\| `(KFPT_[A-Z0-9_]+)` \|", line)
        if found:
            rows[found.group(1)] = [c.strip() for c in line.strip().strip("|").split(" | ")]
    return rows


def test_the_readme_lists_every_setting_with_its_default() -> None:
    rows = _readme_rows()
    assert sorted(rows) == sorted(registry.BY_NAME)
    for setting in registry.SETTINGS:
        default = registry.default_text(setting)
        cell = rows[setting.name][-1]
        assert cell == default or cell.startswith(f"{default} ("), (setting.name, cell, default)


def test_every_setting_the_engine_names_is_declared() -> None:
    named = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r"\bKFPT_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    assert named - set(registry.BY_NAME) == set()


def test_every_setting_is_declared_once_with_a_doc_and_its_stages() -> None:
    assert len(registry.BY_NAME) == len(registry.SETTINGS)
    stages = {"ingest", "intercept", "render", "launch", "status"}
    for setting in registry.SETTINGS:
        assert setting.name.startswith("KFPT_") and setting.doc and setting.stages
        assert set(setting.stages) <= stages, setting.name


def test_a_typo_fails_at_start_naming_the_setting_and_the_close_match() -> None:
    with pytest.raises(SettingError, match=r"unknown setting KFPT_LAUNCHR; did you mean KFPT_LAUNCHER\?"):
        Settings.from_env({"KFPT_LAUNCHR": "kfp"})
    with pytest.raises(
        SettingError, match=r"unknown setting KFPT_WHATEVER; `kfp-triggers settings` lists them"
    ):
        Settings.from_env({"KFPT_WHATEVER": "1"})


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("KFPT_TRANSPORT", "kafka", "KFPT_TRANSPORT must be one of memory, pubsub, http, got 'kafka'"),
        ("KFPT_MAX_BODY_BYTES", "1.5", "KFPT_MAX_BODY_BYTES must be a whole number of at least 1, got '1.5'"),
        (
            "KFPT_MAX_BODY_BYTES",
            "lots",
            "KFPT_MAX_BODY_BYTES must be a whole number of at least 1, got 'lots'",
        ),
        ("KFPT_MAX_EVENT_AGE_S", "0", "KFPT_MAX_EVENT_AGE_S must be a positive number of seconds, got '0'"),
        (
            "KFPT_STAGE_TIMEOUT_S",
            "inf",
            "KFPT_STAGE_TIMEOUT_S must be a positive number of seconds, got 'inf'",
        ),
        (
            "KFPT_RETENTION_DAYS",
            "-1",
            "KFPT_RETENTION_DAYS must be 0 (keep for good) to 36500 days, got '-1'",
        ),
        ("KFPT_LOG_LEVEL", "LOUD", "KFPT_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'"),
        ("KFPT_LOG_FORMAT", "xml", "KFPT_LOG_FORMAT must be 'json' or 'text', got 'xml'"),
        ("KFPT_CEL_PARSER_CACHE", "maybe", "KFPT_CEL_PARSER_CACHE must be one of on, off, 1, 0, true, false"),
        ("KFPT_MESSAGE_KEY_SECRET", "key", "KFPT_MESSAGE_KEY_SECRET must be <secretName>/<key>, got 'key'"),
        ("KFPT_SINK_URL", "broker:80", "KFPT_SINK_URL must be an http(s) URL, got 'broker:80'"),
        ("KFPT_TOPIC_PREFIX", "Prod", "KFPT_TOPIC_PREFIX must be 1-15 lowercase letters, digits or dashes"),
        (
            "KFPT_STORE",
            "redis://x",
            "KFPT_STORE must be sqlite:///<path> or firestore://<project>[/<database>]",
        ),
        ("KFPT_STORE", "firestore://p/Bad", "names an invalid Firestore database 'Bad'"),
        ("KFPT_GITHUB_ENTERPRISE_HOSTS", "ghe.example.com, https://x/", "not 'https://x/'"),
    ],
)
def test_a_malformed_value_fails_at_start_naming_the_setting_and_what_it_must_be(
    name: str, raw: str, message: str
) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        Settings.from_env({name: raw})


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(registry.InvalidSettingsError) as info:
        registry.check({"KFPT_LAUNCHR": "kfp", "KFPT_MAX_BODY_BYTES": "big", "KFPT_LOG_LEVEL": "loud"})
    assert [type(e).__name__ for e in info.value.errors] == [
        "UnknownSettingError",
        "InvalidSettingError",
        "InvalidSettingError",
    ]
    assert info.value.errors[0].suggestion == "KFPT_LAUNCHER"  # type: ignore[attr-defined]


def test_unset_or_empty_settings_take_the_declared_defaults() -> None:
    assert Settings.from_env({}) == Settings() == Settings.from_env({"KFPT_CONFIG": " ", "KFPT_STORE": ""})
    assert registry.GITHUB_API_URL.default == DEFAULT_API_URL
    values = Settings.from_env(
        {"KFPT_MAX_BODY_BYTES": "1024", "KFPT_GITHUB_ENTERPRISE_HOSTS": "a.example, b:8443"}
    )
    assert values.max_body_bytes == 1024 and isinstance(values.max_body_bytes, int)
    assert values.github_enterprise_hosts == ("a.example", "b:8443")
    assert (
        registry.value({"KFPT_LOG_LEVEL": "debug", "KFPT_LAUNCHER": "VERTEX"}, registry.LOG_LEVEL) == "DEBUG"
    )


def test_a_platform_variable_stands_in_for_an_unset_setting() -> None:
    assert registry.value({"K_SINK": "http://broker/"}, registry.SINK_URL) == "http://broker/"
    both = {"K_SINK": "http://broker/", "KFPT_SINK_URL": "http://mine/"}
    assert registry.value(both, registry.SINK_URL) == "http://mine/"
    assert registry.value({"GOOGLE_CLOUD_PROJECT": "p"}, registry.PUBSUB_PROJECT) == "p"


def test_a_token_is_never_shown() -> None:
    environ = {"KFPT_KFP_TOKEN": "inline-secret-token"}
    assert "inline-secret-token" not in json.dumps(registry.describe(environ))
    [row] = [r for r in registry.describe(environ) if r["name"] == "KFPT_KFP_TOKEN"]
    assert row["value"] == "(set, hidden)"


def test_the_store_factory_reads_its_url_through_the_registry(tmp_path: Path) -> None:
    store = store_from_env({"KFPT_STORE": f"sqlite:///{tmp_path}/state.db"})
    assert isinstance(store, SqliteStore)
    assert (tmp_path / "state.db").exists()
    with pytest.raises(InvalidStoreUrlError, match=r"KFPT_STORE must be .*, got 'sqlite://host/x'"):
        store_from_env({"KFPT_STORE": "sqlite://host/x"})
