"""The LMS integration layer: what talks to learning platforms over the network.

An HTTP client that refuses private targets (`net`), webhook signatures and key pairs (`crypto`),
integration registration (`integrations`), parsing signed events (`webhook`), the LTI cache and
rate limits in Redis (`kv`), and grade passback (`passback`). It sits above `store/` (the rows live
in `store.lms.models`) and below `tasks/` and `web/`, which call it; nothing here imports them.
"""

from lms.integrations import (
    IntegrationError,
    create_integration,
    find_by_public_id,
    rotate_secret,
    tool_jwks,
)
from lms.passback import Backoff, Outcome, deliver
from store.lms.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Integration,
    IntegrationKind,
    LtiResourceLink,
)

__all__ = [
    "Backoff",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Integration",
    "IntegrationError",
    "IntegrationKind",
    "LtiResourceLink",
    "Outcome",
    "create_integration",
    "deliver",
    "find_by_public_id",
    "rotate_secret",
    "tool_jwks",
]
