"""LMS integration: signed webhook intake, LTI 1.3 launch and grade passback (AGS or webhook).

Importing this package registers its tables on `store.models.Base`.
"""
from store.lms.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Integration,
    IntegrationKind,
    LtiResourceLink,
)
from store.lms.integrations import (
    IntegrationError,
    create_integration,
    find_by_public_id,
    rotate_secret,
    tool_jwks,
)
from store.lms.passback import Backoff, Outcome, deliver

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
