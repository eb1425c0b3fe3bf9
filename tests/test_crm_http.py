"""A slow CRM backend holds a caller for at most the HTTP client's deadline (issue 16).

The CRM interface is synchronous and the actions call it from the action server, so
a backend that accepts connections but answers late stalled the caller for every
retry's timeout plus the backoff. Real HTTP against the local shop service.
"""

from __future__ import annotations


import pytest

from bot.crm.base import CRMUnavailable
from bot.crm.rest import RestCRM
from tests.fakes.shop_rest_server import FakeShopRest
from tests.test_crm_rest import shop  # noqa: F401 - the fake shop fixture




def test_retries_of_a_slow_backend_stop_at_the_deadline(shop: FakeShopRest) -> None:
    # six attempts allowed, 0.3 s each; the deadline (twice the timeout) leaves room for two
    crm = RestCRM(shop.url, token="t0ken", timeout=0.3, retries=5, backoff=0.05)
    shop.delay = 1.0
    before = len(shop.requests)
    with pytest.raises(CRMUnavailable, match="gave up after 0.6 s"):
        crm.get_customer("C001")
    assert 1 <= len(shop.requests) - before <= 3


def test_a_backend_that_recovers_within_the_deadline_is_answered(shop: FakeShopRest) -> None:
    crm = RestCRM(shop.url, token="t0ken", timeout=1.0, retries=2, backoff=0.01)
    shop.fail_next(503)
    customer = crm.get_customer("C001")
    assert customer is not None and customer.customer_id == "C001"
