"""The resilient async API client every vendor connector uses.

Modules, one idea each: ``client`` (VendorClient), ``retry`` (RetryPolicy), ``breaker`` (per-vendor
circuit breakers), ``pacing`` (quota-signal pacers), ``pagination`` (paginators), ``auth`` (credentials), ``redaction``,
``dead_letters``, ``checkpoint`` and ``extract`` (the loop tying them together).

A stream, end to end::

    client = VendorClient("crm", base_url, BearerAuth(token), pacer_for("crm"))
    paginator = paginator_from_config({"type": "cursor_in_body", "record_path": "results",
                                       "cursor_path": "paging.next.after", "cursor_param": "after"})
    first = RequestSpec("GET", "/crm/v3/objects/contacts", params={"limit": 100})
    result = await extract(client, paginator, first, checkpoint_store=store,
                           checkpoint_key="crm/contacts/2026-11-25", on_page=append_page,
                           stream="contacts", partition="2026-11-25")
"""

from .auth import Auth, BearerAuth
from .breaker import BreakerRegistry, CircuitBreaker, breaker_for
from .checkpoint import Checkpoint, CheckpointStore, InMemoryCheckpointStore, LocalFolderCheckpointStore
from .client import ClientStats, RequestRecord, RequestSpec, VendorClient
from .dead_letters import DeadLetter
from .errors import (
    ErrorInfo,
    ExpiredCredentials,
    HttpClientError,
    PaginationLoop,
    QuotaExhausted,
    RetriesExhausted,
    VendorError,
    VendorTransportError,
    VendorUnavailable,
)
from .extract import ExtractResult, extract
from .pacing import (
    BodyQuotaPacer,
    DailyAllowancePacer,
    FixedWindowPacer,
    Pacer,
    RollingWindowPacer,
    UsagePercentPacer,
    pacer_for,
)
from .pagination import (
    CursorInBody,
    NextUrl,
    Offset,
    Page,
    PageToken,
    Paginator,
    SinglePage,
    paginator_from_config,
)
from .redaction import describe_request
from .retry import RetryPolicy

__all__ = [
    "Auth",
    "BearerAuth",
    "BodyQuotaPacer",
    "BreakerRegistry",
    "Checkpoint",
    "CheckpointStore",
    "CircuitBreaker",
    "ClientStats",
    "CursorInBody",
    "DailyAllowancePacer",
    "DeadLetter",
    "ErrorInfo",
    "ExpiredCredentials",
    "ExtractResult",
    "FixedWindowPacer",
    "HttpClientError",
    "InMemoryCheckpointStore",
    "LocalFolderCheckpointStore",
    "NextUrl",
    "Offset",
    "Pacer",
    "Page",
    "PageToken",
    "PaginationLoop",
    "Paginator",
    "QuotaExhausted",
    "RequestRecord",
    "RequestSpec",
    "RetriesExhausted",
    "RetryPolicy",
    "RollingWindowPacer",
    "SinglePage",
    "UsagePercentPacer",
    "VendorClient",
    "VendorError",
    "VendorTransportError",
    "VendorUnavailable",
    "breaker_for",
    "describe_request",
    "extract",
    "pacer_for",
    "paginator_from_config",
]
