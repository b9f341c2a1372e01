"""Helpers shared by the portal's HTTP and browser tests: its address, CSRF tokens in pages,
and Stripe's payment event for a checkout made through the portal."""

import re
from datetime import datetime

from conftest import deliver, stripe


def portal(api: str, page: str = "") -> str:
    return f"{api}/portal/app/{page}"


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a CSRF field"
    return found.group(1)


def checkout_event(account_id: str) -> dict:
    """Stripe's `payment_intent.succeeded` for this account's newest checkout (the emulator keeps
    events oldest first)."""
    found, after = [], None
    while True:
        page = stripe("GET", "/v1/events", limit=100, type="payment_intent.succeeded",
                      **({"starting_after": after} if after else {}))
        found += [e for e in page["data"]
                  if (e["data"]["object"].get("metadata") or {}).get("account_id") == account_id]
        if not page.get("has_more") or not page["data"]:
            break
        after = page["data"][-1]["id"]
    assert found, f"no payment succeeded for {account_id}"
    return found[-1]


def deliver_checkout(fns, account_id: str, when: datetime):
    """The webhook Stripe sends after a checkout's payment, delivered now (as Stripe would)."""
    r = deliver(fns, checkout_event(account_id), when)
    assert r.status == 200, r
    return r
