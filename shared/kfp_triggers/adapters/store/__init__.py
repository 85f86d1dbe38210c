"""Persistence for the stages: event journal, idempotency ledger and run records.

:func:`store_from_url` builds the store ``KFPT_STORE`` names (SQLite by default, Firestore on GCP);
the port and its record types live in :mod:`kfp_triggers.adapters.store.base`.
"""

from __future__ import annotations

from kfp_triggers.adapters.store._groups import Admission, GroupMember, GroupRules
from kfp_triggers.adapters.store.base import (
    TERMINAL_STATES,
    Claim,
    ClaimStatus,
    ConcurrencyGroups,
    EventJournal,
    EventRecord,
    EventSummary,
    IdempotencyLedger,
    InvalidStoreUrlError,
    LeaseLostError,
    RunNotFoundError,
    RunRecord,
    RunStore,
    Store,
    StoreError,
    StoreUnavailableError,
    TriggerDecision,
    TriggerRecord,
)
from kfp_triggers.adapters.store.factory import DEFAULT_STORE_URL, store_from_url

__all__ = [
    "DEFAULT_STORE_URL",
    "TERMINAL_STATES",
    "Admission",
    "Claim",
    "ClaimStatus",
    "ConcurrencyGroups",
    "EventJournal",
    "EventRecord",
    "EventSummary",
    "GroupMember",
    "GroupRules",
    "IdempotencyLedger",
    "InvalidStoreUrlError",
    "LeaseLostError",
    "RunNotFoundError",
    "RunRecord",
    "RunStore",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "TriggerDecision",
    "TriggerRecord",
    "store_from_url",
]
