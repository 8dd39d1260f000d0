"""LMS rows: integrations, grade deliveries and their attempts, LTI resource links.

Importing this package registers its tables on `store.models.Base`. The code that talks to LMSs
(HTTP, signatures, passback) is the `lms` package above this layer.
"""

from store.lms.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Integration,
    IntegrationKind,
    LtiResourceLink,
)

__all__ = ["Delivery", "DeliveryAttempt", "DeliveryStatus", "Integration", "IntegrationKind", "LtiResourceLink"]
