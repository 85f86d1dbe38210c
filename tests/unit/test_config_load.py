"""Loading Tekton Triggers YAML into resolved models: kinds, refs, namespaces, files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kfp_triggers.config import (
    Configuration,
    InterceptorSpec,
    ResolvedTrigger,
    check_config,
    load_config,
)
from kfp_triggers.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line of ``path`` containing ``needle``."""
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return hits[nth - 1]


def only(config: Configuration) -> list[ResolvedTrigger]:
    return config.triggers_for(config.listener())


FULL = """
apiVersion: v1
kind: Secret
metadata: {name: github-secret}
stringData: {token: abc}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules: []
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: listener
  namespace: ci
spec:
  serviceAccountName: sa
  triggers:
    - name: inline
      interceptors:
        - name: only pushes
          ref: {name: cel}
          params:
            - name: filter
              value: "header.match('X-GitHub-Event', 'push')"
        - ref: {name: custom-check}
        - ref: {name: local-check, kind: NamespacedInterceptor}
          params:
            - {name: level, value: 3}
      bindings:
        - ref: common
        - ref: cluster-common
          kind: ClusterTriggerBinding
        - name: inline-param
          value: $(body.x)
      template:
        ref: run-template
    - triggerRef: standalone
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: standalone, namespace: ci}
spec:
  serviceAccountName: trigger-sa
  bindings:
    - {name: sha, value: $(body.sha)}
  template:
    spec:
      params:
        - {name: sha, description: the commit}
      resourcetemplates:
        - apiVersion: pipelines.kubeflow.org/v2beta1
          kind: Run
          metadata: {generateName: run-}
          spec: {display_name: "build $(tt.params.sha)"}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: common, namespace: ci}
spec:
  params:
    - {name: repo, value: $(body.repository.name)}
    - {name: count, value: 3}
    - {name: flag, value: true}
    - {name: ratio, value: 1.5}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterTriggerBinding
metadata: {name: cluster-common, namespace: ignored}
spec:
  params:
    - {name: event, value: $(header.X-GitHub-Event)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata:
  name: run-template
  namespace: ci
  annotations: {triggers.tekton.dev/old-escape-quotes: "yes"}
spec:
  params:
    - {name: repo}
    - {name: count, default: "1"}
    - {name: flag}
    - {name: ratio}
    - {name: event}
    - {name: inline-param}
  resourcetemplates:
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata: {generateName: "$(tt.params.repo)-"}
      spec:
        display_name: "$(tt.params.repo) $(tt.params.count) $(tt.params.flag) $(tt.params.ratio)"
        runtime_config: {parameters: {event: "$(tt.params.event)", x: "$(tt.params.inline-param)"}}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata: {name: custom-check}
spec:
  clientConfig: {url: "http://checker.example:8080/check"}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: Interceptor
metadata: {name: local-check, namespace: ci}
spec:
  clientConfig:
    service: {name: local, namespace: ci, path: verify, port: 9000}
"""


def test_every_kind_loads_and_references_resolve(tmp_path: Path) -> None:
    path = write(tmp_path / "all.yaml", FULL)
    config, problems = check_config([path])
    assert [p for p in problems if p.severity == "error"] == []
    assert config is not None
    listener = config.listener()
    assert (listener.namespace, listener.name) == ("ci", "listener")
    assert list(config.listeners) == [("ci", "listener")]
    inline, standalone = config.triggers_for(listener)

    assert inline.name == "inline"
    assert inline.trigger_id == "namespaces/ci/triggers/inline"
    assert [(b.name, b.value) for b in inline.bindings] == [
        ("repo", "$(body.repository.name)"),
        ("count", "3"),
        ("flag", "true"),
        ("ratio", "1.5"),
        ("event", "$(header.X-GitHub-Event)"),
        ("inline-param", "$(body.x)"),
    ]
    assert inline.bindings[0].source == f"{path}:{line(path, 'name: repo, value')}"
    assert inline.template.name == "run-template"
    assert inline.template.namespace == "ci"
    assert inline.template.old_escape_quotes is True
    assert inline.template.file_dir == str(tmp_path)
    assert [p.name for p in inline.template.params][:2] == ["repo", "count"]
    assert inline.template.params[1].default == "1"
    assert inline.template.params[0].default is None
    assert inline.template.resourcetemplates[0]["kind"] == "Run"
    assert type(inline.template.resourcetemplates[0]) is dict

    cel, custom, local = inline.interceptors
    assert cel == InterceptorSpec(
        name="only pushes",
        ref_name="cel",
        ref_kind="ClusterInterceptor",
        params={"filter": "header.match('X-GitHub-Event', 'push')"},
        source=cel.source,
    )
    assert cel.url is None
    assert (custom.name, custom.ref_kind, custom.url) == (
        "custom-check",
        "ClusterInterceptor",
        "http://checker.example:8080/check",
    )
    assert (local.ref_kind, local.url, local.params) == (
        "NamespacedInterceptor",
        "http://local.ci.svc:9000/verify",
        {"level": 3},
    )

    assert standalone.name == "standalone"
    assert standalone.service_account == "trigger-sa"
    assert standalone.template.name == ""
    assert standalone.template.namespace == "ci"
    assert standalone.source == f"{path}:{line(path, 'kind: Trigger') - 1}"  # the document's first line


def test_namespaces_default_and_cluster_scope(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b}
        spec: {params: [{name: a, value: x}]}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: ClusterTriggerBinding
        metadata: {name: b, namespace: somewhere}
        spec: {params: [{name: a, value: y}]}
        """,
    )
    config = load_config([path])
    assert set(config.bindings) == {("TriggerBinding", "default", "b"), ("ClusterTriggerBinding", "", "b")}
    assert config.bindings[("ClusterTriggerBinding", "", "b")].params[0].value == "y"


def test_directory_is_read_recursively_in_order(tmp_path: Path) -> None:
    write(
        tmp_path / "b" / "listener.yml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el}
        spec: {triggers: [{triggerRef: t}]}
        """,
    )
    write(
        tmp_path / "a" / "trigger.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          template:
            spec:
              resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
        """,
    )
    write(tmp_path / ".hidden" / "broken.yaml", "kind: [")
    write(tmp_path / "notes.json", "{not yaml: [")
    config = load_config([tmp_path])
    assert [str(f.relative_to(tmp_path)) for f in config.files] == ["a/trigger.yaml", "b/listener.yml"]
    assert [t.name for t in only(config)] == ["t"]


def test_version_tracks_file_contents(tmp_path: Path) -> None:
    text = """
    apiVersion: triggers.tekton.dev/v1beta1
    kind: TriggerBinding
    metadata: {name: b}
    spec: {params: [{name: a, value: x}]}
    """
    path = write(tmp_path / "c.yaml", text)
    first = load_config([path]).version
    assert first == load_config([path]).version
    assert len(first) == 64
    write(path, text.replace("value: x", "value: y"))
    assert load_config([path]).version != first


def test_listener_lookup(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: one, uid: 11111111-2222-3333-4444-555555555555}
        spec: {labelSelector: {}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata:
          name: two
          namespace: prod
          annotations: {tekton.dev/payload-validation: "false"}
        spec: {labelSelector: {}}
        """,
    )
    config = load_config([path])
    one = config.listener("one")
    two = config.listener("prod/two")
    assert one.uid == "11111111-2222-3333-4444-555555555555"
    assert one.payload_validation is True
    assert two.payload_validation is False
    assert two.uid == load_config([path]).listener("two").uid != one.uid
    with pytest.raises(ConfigError, match=r"choose an EventListener.*default/one, prod/two"):
        config.listener()
    with pytest.raises(ConfigError, match="no EventListener 'three'"):
        config.listener("three")
    with pytest.raises(ConfigError, match="no EventListener 'default/two'"):
        config.listener("default/two")


def test_interceptor_addresses_resolve_as_tekton(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    import base64

    bundle = base64.b64encode(pem.encode()).decode()
    path = write(
        tmp_path / "c.yaml",
        f"""
        apiVersion: triggers.tekton.dev/v1alpha1
        kind: ClusterInterceptor
        metadata: {{name: plain}}
        spec: {{clientConfig: {{service: {{name: svc, namespace: tools}}}}}}
        ---
        apiVersion: triggers.tekton.dev/v1alpha1
        kind: ClusterInterceptor
        metadata: {{name: tls}}
        spec:
          clientConfig:
            caBundle: {bundle}
            service: {{name: svc, namespace: tools, path: /x}}
        ---
        apiVersion: triggers.tekton.dev/v1alpha1
        kind: ClusterInterceptor
        metadata: {{name: status}}
        spec: {{clientConfig: {{service: {{name: svc, namespace: tools}}}}}}
        status: {{address: {{url: "https://from-status.example/"}}}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {{name: el}}
        spec:
          triggers:
            - name: t
              interceptors:
                - ref: {{name: plain}}
                - ref: {{name: tls}}
                - ref: {{name: status}}
              template:
                spec:
                  resourcetemplates: [{{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}}]
        """,
    )
    (trigger,) = only(load_config([path]))
    plain, tls, status = trigger.interceptors
    assert (plain.url, plain.ca_bundle) == ("http://svc.tools.svc:80", None)
    assert (tls.url, tls.ca_bundle) == ("https://svc.tools.svc:8443/x", pem)
    assert status.url == "https://from-status.example/"


def test_webhook_interceptor_and_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el, namespace: ci}
        spec:
          triggers:
            - name: hooked
              interceptors:
                - webhook:
                    objectRef: {kind: Service, apiVersion: v1, name: validator}
                    header:
                      - {name: X-One, value: a}
                      - {name: X-Many, value: [b, c]}
              template:
                spec:
                  resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
          triggerGroups:
            - name: prs
              interceptors:
                - ref: {name: cel}
                  params: [{name: filter, value: "true"}]
              triggerSelector:
                labelSelector: {matchLabels: {team: ml}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: member, namespace: ci, labels: {team: ml}}
        spec:
          template:
            spec:
              resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
        """,
    )
    config = load_config([path])
    listener = config.listener()
    (hooked,) = config.triggers_for(listener)
    (hook,) = hooked.interceptors
    assert hook.ref_name is None
    assert hook.name == "webhook"
    assert hook.webhook is not None
    assert hook.webhook.url is None
    assert hook.webhook.service == {
        "kind": "Service",
        "apiVersion": "v1",
        "name": "validator",
        "namespace": "ci",
    }
    assert hook.webhook.header == (("X-One", "a"), ("X-Many", ("b", "c")))
    (group,) = config.groups_for(listener)
    assert group.name == "prs"
    assert group.group_id == group.trigger_id == "namespaces/ci/triggerGroups/prs"
    assert [i.ref_name for i in group.interceptors] == ["cel"]
    assert [t.trigger_id for t in group.triggers] == ["namespaces/ci/triggers/member"]


def test_v1_list_items_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: v1
        kind: List
        items:
          - apiVersion: triggers.tekton.dev/v1beta1
            kind: TriggerBinding
            metadata: {name: b}
            spec: {params: [{name: a, value: x}]}
          - apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata: {}
        """,
    )
    config, problems = check_config([path])
    assert config is not None
    assert ("TriggerBinding", "default", "b") in config.bindings
    assert [(p.line, p.message) for p in problems] == [
        (line(path, "metadata: {}"), "Trigger needs metadata.name")
    ]


def test_warnings_are_kept_on_a_loaded_config(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerTemplate
        metadata: {name: t}
        spec:
          resourcetemplates:
            - apiVersion: tekton.dev/v1
              kind: PipelineRun
        """,
    )
    config = load_config([path])
    assert [(w.line, w.severity) for w in config.warnings] == [(line(path, "kind: PipelineRun"), "warning")]
    assert "no launcher can start it" in config.warnings[0].message


def test_nothing_readable_gives_no_configuration(tmp_path: Path) -> None:
    config, problems = check_config([tmp_path / "missing.yaml"])
    assert config is None
    assert [p.message for p in problems] == ["no such file or directory"]
    with pytest.raises(ConfigError, match="no such file or directory"):
        load_config([tmp_path / "missing.yaml"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_config([empty])[0] is None


def test_files_without_triggers_objects_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    config, problems = check_config([path])
    assert config is not None
    assert [p.severity for p in problems] == ["error"]
    assert "no triggers.tekton.dev objects" in problems[0].message


def test_concurrency_annotations_on_triggers_and_as_the_listener_default(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata:
          name: el
          annotations:
            kfp-triggers.dev/concurrency-group: "$(tt.params.branch)"
            kfp-triggers.dev/concurrency-policy: cancel-in-progress
        spec:
          triggers:
            - {name: inline, template: {ref: tpl}}
            - {name: by-ref, triggerRef: queued}
            - {name: plain, triggerRef: plain}
            - {name: closer, triggerRef: closer}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata:
          name: queued
          annotations:
            kfp-triggers.dev/concurrency-group: "train/$(tt.params.branch)"
            kfp-triggers.dev/concurrency-policy: queue
            kfp-triggers.dev/max-running: "3"
        spec: {template: {ref: tpl}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata:
          name: plain
        spec: {template: {ref: tpl}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata:
          name: closer
          annotations:
            kfp-triggers.dev/concurrency-group: "$(tt.params.branch)"
            kfp-triggers.dev/concurrency-action: cancel-group
        spec: {template: {ref: tpl}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerTemplate
        metadata: {name: tpl}
        spec:
          params: [{name: branch, default: main}]
          resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
        """,
    )
    config = load_config([path])
    by_name = {t.name: t for t in only(config)}
    inline = by_name["inline"].concurrency
    assert inline is not None and (inline.group, inline.policy, inline.max_running, inline.action) == (
        "$(tt.params.branch)",
        "cancel-in-progress",
        1,
        "launch",
    )
    assert inline.source == f"{path}:{line(path, 'name: el')}"
    queued = by_name["queued"].concurrency
    assert queued is not None and (queued.group, queued.policy, queued.max_running) == (
        "train/$(tt.params.branch)",
        "queue",
        3,
    )
    assert by_name["plain"].concurrency is None  # a Trigger object does not take the listener's default
    closer = by_name["closer"].concurrency
    assert closer is not None and (closer.policy, closer.action) == ("queue-latest", "cancel-group")


def test_a_grouped_trigger_whose_template_renders_several_runs_is_warned_about(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el}
        spec:
          triggers: [{name: two, triggerRef: two}]
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata:
          name: two
          annotations: {kfp-triggers.dev/concurrency-group: "g"}
        spec:
          template:
            spec:
              resourcetemplates:
                - {apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}
                - {apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}
        """,
    )
    _config, problems = check_config([path])
    [warning] = [p for p in problems if "concurrency group" in p.message]
    assert warning.severity == "warning" and warning.line == line(path, "name: two", 2)
    assert (
        "renders 2 resources; only the first run of each invocation is in the concurrency group"
        in warning.message
    )


def test_a_rate_limit_and_a_debounce_apply_to_the_trigger_alone_without_a_group(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el}
        spec:
          triggers: [{name: gated, triggerRef: gated}]
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata:
          name: gated
          annotations:
            kfp-triggers.dev/rate-limit: "10/1h30m"
            kfp-triggers.dev/debounce: "1.5m"
        spec:
          template:
            spec:
              resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
        """,
    )
    [trigger] = only(load_config([path]))
    spec = trigger.concurrency
    assert spec is not None
    assert (spec.group, spec.policy, spec.rate_limit, spec.rate_window_s, spec.debounce_s) == (
        "",
        "allow",
        10,
        5400.0,
        90.0,
    )
