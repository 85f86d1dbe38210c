"""Alias of :func:`kfp_triggers.golang.json.unmarshal_object` for code outside the engine.

The benchmark harness decodes bodies with ``loads_object`` from here; the engine itself uses
:mod:`kfp_triggers.golang.json`.
"""

from __future__ import annotations

from kfp_triggers.golang.json import GoJsonError as GoJSONError
from kfp_triggers.golang.json import unmarshal_object as loads_object

__all__ = ["GoJSONError", "loads_object"]
