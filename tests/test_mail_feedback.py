"""SES feedback, end to end on the local stack: the SNS-shaped event the configuration set's topic
delivers, sent to the mail-feedback function through `cargo lambda invoke`. A hard bounce marks
the administrator's address undeliverable: the account's next notice is kept in its history (§23)
but not mailed. A soft bounce is only recorded; feedback for an address no account has changes
nothing."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

from conftest import CARGO_LAMBDA, ROOT, Customer, ddb, key, utc

D = timedelta(days=1)
T0 = utc(2031, 6, 1, 8)


def feedback(fns, kind: str, address: str, when, bounce_type: str = "Permanent") -> dict:
    """One SES event as SNS delivers it (the message is a JSON string)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if kind == "Bounce":
        detail = {"bounce": {"bounceType": bounce_type, "bounceSubType": "General", "timestamp": stamp,
                             "bouncedRecipients": [{"emailAddress": address}]}}
    else:
        detail = {"complaint": {"complaintFeedbackType": "abuse", "timestamp": stamp,
                                "complainedRecipients": [{"emailAddress": address}]}}
    message = {"eventType": kind, "mail": {"messageId": f"ses-{kind.lower()}-1", "timestamp": stamp}, **detail}
    event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                          "Sns": {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(message),
                                  "Timestamp": stamp}}]}
    out = subprocess.run([CARGO_LAMBDA, "lambda", "invoke", "mail-feedback", "--data-ascii", json.dumps(event),
                          "-A", "127.0.0.1", "-P", str(fns.port)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def undeliverable(c: Customer) -> list[str]:
    item = ddb().get_item(TableName=c.fns.table, Key=key("account", id=c.id), ConsistentRead=True)["Item"]
    v = item.get("undeliverable", {})
    return sorted(x["S"] for x in v.get("L", [])) or sorted(v.get("SS", []))


def test_a_hard_bounce_stops_notices_to_the_address_and_both_are_in_the_history(fresh):
    c = Customer(fresh, T0)
    mailed = c.subjects()
    assert mailed, "the welcome was mailed before the bounce"
    assert feedback(fresh, "Bounce", c.email, T0 + D) == {"marked": 1, "recorded": 0, "unknown": 0}
    assert undeliverable(c) == [c.email]

    fresh.sweep(T0 + 23 * D)  # the inactivity warning of a Free account (§21.1)
    assert c.subjects() == mailed, "no notice goes to an address that bounced for good"
    kinds = [e["kind"] for e in c.history(T0 + 23 * D + timedelta(hours=1))]
    assert "mail_bounced" in kinds and "notice:inactivity_warning" in kinds, kinds


def test_a_complaint_marks_the_address_and_a_soft_bounce_only_records(fresh):
    a, b = Customer(fresh, T0), Customer(fresh, T0)
    assert feedback(fresh, "Bounce", b.email, T0 + D, bounce_type="Transient") == \
        {"marked": 0, "recorded": 1, "unknown": 0}
    assert undeliverable(b) == []
    assert feedback(fresh, "Complaint", a.email, T0 + D) == {"marked": 1, "recorded": 0, "unknown": 0}
    assert undeliverable(a) == [a.email]
    assert feedback(fresh, "Bounce", "nobody-here@example.org", T0 + D) == {"marked": 0, "recorded": 0, "unknown": 1}
    kinds = [e["kind"] for e in b.history(T0 + 2 * D)]
    assert "mail_soft_bounced" in kinds, kinds
