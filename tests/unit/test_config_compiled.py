"""The compiled configuration: what a stage gets from it is what the YAML gives, and only when current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kfp_triggers.app.validation import load
from kfp_triggers.config import Configuration
from kfp_triggers.config.compiled import COMPILED_NAME, dumps, load_compiled, write_compiled
from tests.conftest import EXAMPLES, ROOT

LISTENER_KINDS = """
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: ci, annotations: {kfp-triggers.dev/accepted-status: "200"}}
spec:
  triggers:
    - name: inline
      interceptors:
        - ref: {name: cel}
          params: [{name: filter, value: "body.a == 1"}]
        - ref: {name: remote, kind: ClusterInterceptor}
      bindings: [{ref: shared, kind: ClusterTriggerBinding}, {name: x, value: "$(body.x)"}]
      template: {ref: tpl}
  triggerGroups:
    - name: g
      interceptors: [{ref: {name: cel}, params: [{name: filter, value: "true"}]}]
      triggerSelector: {labelSelector: {matchLabels: {team: ml}}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: grouped, namespace: ci, labels: {team: ml}}
spec: {template: {ref: tpl}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterTriggerBinding
metadata: {name: shared}
spec: {params: [{name: y, value: "$(header.X-Y)"}]}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata: {name: remote}
spec: {clientConfig: {url: "http://remote.example:8080/check"}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: tpl, namespace: ci}
spec:
  params: [{name: x, default: "1"}, {name: y}]
  resourcetemplates:
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata: {generateName: "t-", labels: {"$t": "user data that looks like a type tag"}}
      spec: {display_name: "$(tt.params.x)", pipeline_spec: {root: {}, list: [1, 2.5, null, true]}}
"""


def copied(tmp_path: Path, example: str) -> Path:
    target = tmp_path / example
    shutil.copytree(
        EXAMPLES / example, target, ignore=shutil.ignore_patterns("secrets", "requests", "payloads")
    )
    return target


def assert_same(compiled: Configuration, loaded: Configuration) -> None:
    assert compiled.version == loaded.version and compiled.files == loaded.files
    assert dict(compiled.listeners) == dict(loaded.listeners)
    assert dict(compiled.templates) == dict(loaded.templates)
    assert dict(compiled.bindings) == dict(loaded.bindings)
    assert compiled.warnings == loaded.warnings
    for listener in loaded.listeners.values():
        assert compiled.triggers_for(listener) == loaded.triggers_for(listener)
        assert compiled.groups_for(listener) == loaded.groups_for(listener)


@pytest.mark.parametrize("example", ["github-push", "github-branches"])
def test_a_compiled_example_gives_what_its_yaml_gives(tmp_path: Path, example: str) -> None:
    folder = copied(tmp_path, example)
    loaded = load([str(folder)])
    write_compiled(loaded, folder)
    compiled = load_compiled([str(folder)])
    assert compiled is not None
    assert_same(compiled, loaded)


def test_every_kind_survives_compiling(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "all.yaml").write_text(LISTENER_KINDS, encoding="utf-8")
    loaded = load([str(folder)], check_cel=False)
    write_compiled(loaded, folder)
    compiled = load_compiled([str(folder)])
    assert compiled is not None
    assert_same(compiled, loaded)
    listener = compiled.listener("ci/el")
    [group] = compiled.groups_for(listener)
    assert [t.name for t in group.triggers] == ["grouped"] and listener.accepted_status == 200
    resource = compiled.templates[("ci", "tpl")].resourcetemplates[0]
    assert resource["metadata"]["labels"] == {"$t": "user data that looks like a type tag"}
    assert resource["spec"]["pipeline_spec"]["list"] == [1, 2.5, None, True]


def test_a_stale_missing_or_foreign_compiled_file_is_not_used(tmp_path: Path) -> None:
    folder = copied(tmp_path, "github-push")
    loaded = load([str(folder)])
    text = dumps(loaded)
    target = folder / COMPILED_NAME

    def used(content: str) -> bool:
        target.write_text(content, encoding="utf-8")
        return load_compiled([str(folder)]) is not None

    assert used(text)
    data = json.loads(text)
    assert not used(json.dumps({**data, "models": "0" * 64}))  # another engine's record types
    assert not used(json.dumps({**data, "format": 99}))
    assert not used("{not json")
    assert not used(text.replace('"$t":"EventListener"', '"$t":"Popen"'))  # only config record types
    assert not used(text.replace('"$t":"EventListener"', '"$t":"Problem"'))  # a known type, wrong fields
    assert used(text)
    (folder / "listener.yaml").write_text((folder / "listener.yaml").read_text() + "\n# edited\n")
    assert load_compiled([str(folder)]) is None  # the YAML changed since
    (folder / "listener.yaml").write_text((EXAMPLES / "github-push" / "listener.yaml").read_text())
    assert load_compiled([str(folder)]) is not None
    (folder / "more.yaml").write_text("# another file\n")
    assert load_compiled([str(folder)]) is None  # a file added since
    os.remove(folder / "more.yaml")
    assert load_compiled([str(folder / "listener.yaml")]) is None  # only a directory has one
    assert load_compiled([str(folder), str(folder)]) is None
    target.unlink()
    assert load_compiled([str(folder)]) is None


def test_a_stage_started_from_a_compiled_configuration_never_imports_the_yaml_parser(tmp_path: Path) -> None:
    folder = copied(tmp_path, "github-push")
    write_compiled(load([str(folder)]), folder)
    script = (
        "import sys\n"
        "from kfp_triggers.app.runtime import Settings, build_context\n"
        "from kfp_triggers.adapters.transports.memory import MemoryBus\n"
        f"settings = Settings(config={str(folder)!r}, secrets_dir={str(tmp_path)!r})\n"
        "ctx = build_context(settings, MemoryBus(), {})\n"
        "assert ctx.config.listener().name == 'github-push'\n"
        "print(sorted(m for m in sys.modules if m == 'yaml' or m.startswith('kfp_triggers.config.parse')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    (folder / COMPILED_NAME).unlink()  # without it the same start parses the YAML
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "'yaml'" in done.stdout
