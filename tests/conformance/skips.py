"""Which conformance cases do not apply to Tekton's CEL environment, and why.

Tekton Triggers v0.37 builds its environment with ``cel.NewEnv`` plus the Strings, Encoders,
Sets, Lists and Math extensions and four variables (``pkg/interceptors/cel/cel.go``). It has no
protobuf message types of its own, no optional types, no ``cel.bind``/``cel.block``, no two-variable
comprehensions and no container. Cases that need those are skipped here, with the reason; so are
the cases cel-go's own conformance run skips (``conformance/BUILD.bazel`` of the cel-go commit
Tekton pins), since the aim is to behave as cel-go does, not better.

Matching is by prefix of the case id ``file/section/test``, as cel-go's runner matches, and a
prefix may list several tests after its last ``/`` separated by commas.

Files of cel-spec's ``tests/simple/testdata`` that are not vendored at all, because nothing in them
applies: ``proto2``, ``proto3``, ``proto2_ext``, ``enums``, ``wrappers`` (protobuf messages and
enums), ``dynamic`` (conversions to and from protobuf messages such as ``google.protobuf.Value``;
its 226 cases all name a message type), ``type_deduction`` (compares the checker's deduced types
in protobuf form, or uses messages), ``optionals`` (optional types), ``bindings_ext``
(``cel.bind``), ``block_ext`` (``cel.block``), ``macros2`` (two-variable comprehensions) and
``unknowns`` (empty).

Within the vendored files, a case is skipped automatically (see :mod:`tests.conformance.cases`)
when it names a protobuf message type, sets a container, declares a function or a message-typed
variable, disables macros, only checks types, or expects unknown values.
"""

from __future__ import annotations

CEL_GO_SKIPS: dict[str, str] = {
    # cel-go's _TESTS_TO_SKIP, "Failing conformance tests".
    "fields/qualified_identifier_resolution/map_key_float,map_key_null,map_value_repeat_key": "cel-go skips",
    "fields/qualified_identifier_resolution/map_value_repeat_key_heterogeneous": "cel-go skips",
    "timestamps/duration_converters/get_milliseconds": "cel-go skips",
    # "Temporarily failing tests, need a spec update".
    "string_ext/value_errors/indexof_out_of_range,lastindexof_out_of_range": "cel-go skips",
}
"""cel-go's own skip list, those entries that name cases in the vendored files.

Its other entries name files not vendored here: ``enums/strong_proto2``, ``enums/strong_proto3``,
``optionals/optionals/map_optional_select_has`` and the ``type_deductions`` cases (wrapper
promotion, null assignability to message, duration, timestamp and abstract parameters).
"""

NOT_IN_TEKTON: dict[str, str] = {}
"""Cases that need a feature Tekton's environment does not enable (prefix -> reason)."""

CEL_EXPR_DIFFERENCES: dict[str, str] = {}
"""Cases where the C++ backend still differs from cel-go (prefix -> reason); celpy passes them."""


def _matches(case_id: str, prefix: str) -> bool:
    head, _, tail = prefix.rpartition("/")
    for name in tail.split(","):
        full = f"{head}/{name}" if head else name
        if case_id == full or case_id.startswith(full + "/"):
            return True
    return False


def reason(case_id: str, table: dict[str, str]) -> str | None:
    """The reason ``table`` gives for skipping ``case_id``, or None."""
    for prefix, why in table.items():
        if _matches(case_id, prefix):
            return why
    return None
