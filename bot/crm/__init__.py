"""Hamsafar's CRM: one interface (`bot.crm.base.CRM`) and its backends.

Use `get_crm()` (from `bot.crm.factory`) to get the backend the operator configured.
"""

from bot.crm.base import (  # noqa: F401
    CRM, ActionNotAllowed, Cart, CartItem, CRMError, CRMUnavailable, Customer, DiscountCheck,
    DiscountCode, Feedback, Loyalty, Order, OrderItem, Product, Reason, ReturnRequest, Review, Ticket,
)


def get_crm(*args, **kwargs):  # type: ignore[no-untyped-def]
    """The configured backend (see `bot.crm.factory.get_crm`)."""
    from bot.crm.factory import get_crm as _get_crm

    return _get_crm(*args, **kwargs)

# The package's public modules (`from bot.crm import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "base",
    "cli",
    "demo_data",
    "erasure",
    "factory",
    "http",
    "importer",
    "local",
    "models",
    "policy",
    "rest",
    "sql",
    "woocommerce",
]
