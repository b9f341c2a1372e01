"""The implementation-request page in a real headless Chromium (Debian's `chromium`, driven by
Playwright): a post with a missing field shows the error beside it, a complete post says
"Request has been sent!", and the page is saved as tests/artifacts/form.png."""

import os
import uuid
from pathlib import Path

import pytest

from conftest import ses_messages

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": 900, "height": 1400})
            pg.set_default_timeout(120_000)
            yield pg
        finally:
            browser.close()


def test_a_person_fills_the_form_sees_the_missing_field_then_sends_the_request(api, page):
    ARTIFACTS.mkdir(exist_ok=True)
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{api}/submit-form/forms/implementation-request")
    assert page.locator("html").get_attribute("lang") == "en"

    # Everything but the last name, located by the labels a screen reader announces.
    page.get_by_label("First Name").fill("Ada")
    page.get_by_label("Your Email").fill(email)
    page.get_by_label("Your Phone Number").fill("+44 20 7946 0958")
    page.get_by_label("Your Country").select_option("GB")
    page.get_by_label("City / State / Region").fill("London")
    page.get_by_label("Product version or services required").select_option("cloud")
    page.get_by_label("Implementation Request").fill("A CRM for 40 people, with telephony.")
    page.get_by_role("group", name="I acknowledge").get_by_label("I accept", exact=True).check()
    page.get_by_role("button", name="Submit").click()

    last = page.get_by_label("Last Name")
    assert last.get_attribute("aria-invalid") == "true"
    error = page.locator("#" + last.get_attribute("aria-describedby"))
    assert error.inner_text() == "Field is required"
    # Beside its field: the message follows the input directly.
    assert page.locator("#f-last_name + p.error").inner_text() == "Field is required"
    assert page.locator("p.error").count() == 1
    assert page.get_by_label("First Name").input_value() == "Ada", "values are kept"
    assert page.get_by_label("Your Country").input_value() == "GB"
    page.screenshot(path=str(ARTIFACTS / "form-error.png"), full_page=True)

    last.fill("Lovelace")
    page.get_by_role("button", name="Submit").click()
    page.get_by_role("heading", name="Request has been sent!").wait_for()
    assert page.get_by_role("button", name="Resend").is_visible()
    page.screenshot(path=str(ARTIFACTS / "form.png"), full_page=True)

    [confirmation] = ses_messages(email)
    assert "Request has been sent!" in confirmation["body"]

    page.get_by_role("button", name="Resend").click()
    page.get_by_text("We sent the confirmation again.").wait_for()
    assert len(ses_messages(email)) == 2
