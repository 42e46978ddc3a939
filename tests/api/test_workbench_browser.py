"""The workbench in a real headless Chromium (Debian's, driven by Playwright through its
executable_path; `scripts/ensure-chromium` installs it): an officer signs in with the
keyboard, opens the queue and a referral, finds the chart and the reasons, reviews it and
sees it leave the queue, and the API reads the review back; an auditor finds no review
form; a form posted without its token, or after signing out, is refused; every input is
labelled; the pages fit 800 pixels; the decision page's screenshot is saved."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api import migrate, store
from tests.api.conftest import ROOT, free_port, serve

SCREENSHOTS = ROOT / "out" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    path = subprocess.run(
        [str(ROOT / "scripts" / "ensure-chromium")], check=True, capture_output=True, text=True
    ).stdout.strip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, small_book: Path, models_dir: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """The app under uvicorn on a fresh SQLite store, with 40 merchants decided; its base
    URL and a key of each role."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'underwriting.db'}"
    database = store.connect(url)
    migrate.upgrade(database)
    keys = {role: store.create_key(database, role, f"{role} in the browser")[1]
            for role in ("officer", "auditor")}  # fmt: skip
    database.dispose()
    port = free_port()
    server = serve(url, small_book, models_dir, port, workers=1)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in range(1, 41):
                http.post(
                    "/v1/decisions",
                    json={"merchant_id": f"M{i:08d}", "as_of": "2026-10-01"},
                    headers={"Authorization": f"Bearer {keys['officer']}"},
                ).raise_for_status()
        yield base, keys
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _sign_in(page: Page, base: str, secret: str) -> None:
    page.goto(f"{base}/workbench/")
    expect(page).to_have_url(f"{base}/workbench/sign-in")
    page.keyboard.press("Tab")  # the skip link
    page.get_by_label("API key").focus()
    page.keyboard.type(secret)
    page.keyboard.press("Enter")  # the keyboard alone signs in
    expect(page).to_have_url(f"{base}/workbench/queue")


def _unlabelled(page: Page) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(e => e.type !== 'hidden')
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.name)"""
        )
    )


def test_an_officer_works_a_referral_end_to_end(
    chromium: Browser, served: tuple[str, dict[str, str]]
) -> None:
    base, keys = served
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, base, keys["officer"])
    waiting = int(page.locator(".count").inner_text())
    assert waiting > 0
    first = page.locator("table.queue tbody tr").first
    merchant = first.locator("td").nth(1).inner_text()
    first.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name="Principal reasons")).to_be_visible()
    assert page.locator("ol.reasons li").count() >= 1
    assert page.locator("#sales ~ .chart svg, section:has(#sales) svg").count() >= 1
    expect(page.locator("tr.binding").first).to_be_visible()
    assert _unlabelled(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "decision-page.png"), full_page=True)
    decision_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("radio", name="Approve").check()
    limit = int(page.get_by_label("Approved limit", exact=False).input_value())
    page.get_by_label("Approved limit", exact=False).fill(str(max(1, limit - 500)))
    page.get_by_label("Override reason").select_option(
        "Sales verified with bank statements or tax returns"
    )
    page.get_by_label("Note (required", exact=False).fill("Bank statements match card sales.")
    page.get_by_role("button", name="Save the review").click()
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    expect(page.locator("section.reviewed")).to_contain_text("by officer in the browser")
    assert page.get_by_role("button", name="Save the review").count() == 0
    page.get_by_role("button", name="Replay with the recorded versions").click()
    expect(page.locator(".identical")).to_contain_text("Identical")
    page.get_by_role("link", name="Referral queue").click()
    assert decision_id not in page.content()
    assert int(page.locator(".count").inner_text()) == waiting - 1
    stored = httpx.get(
        f"{base}/v1/decisions/{decision_id}",
        headers={"Authorization": f"Bearer {keys['officer']}"},
    ).json()
    assert stored["merchant_id"] == merchant and stored["review"]["outcome"] == "approve"
    assert stored["review"]["limit"] == max(1, limit - 500)
    assert stored["review"]["reason"] == "Sales verified with bank statements or tax returns"
    cookie = next(c for c in context.cookies() if c["name"] == "uw_workbench")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    context.close()


def test_an_auditor_finds_no_review_form(
    chromium: Browser, served: tuple[str, dict[str, str]]
) -> None:
    base, keys = served
    context = chromium.new_context(viewport={"width": 800, "height": 900})
    page = context.new_page()
    _sign_in(page, base, keys["auditor"])
    assert page.get_by_role("link", name="New decision").count() == 0
    page.locator("table.queue tbody tr").first.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name="How the limit was built")).to_be_visible()
    assert page.get_by_role("button", name="Save the review").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800, f"the decision page is {width} pixels wide at 800"
    context.close()


def test_forms_without_their_token_or_after_sign_out_are_refused(
    chromium: Browser, served: tuple[str, dict[str, str]]
) -> None:
    base, keys = served
    context = chromium.new_context()
    page = context.new_page()
    _sign_in(page, base, keys["officer"])
    page.goto(f"{base}/workbench/decide")
    assert _unlabelled(page) == []
    csrf = page.locator("input[name=csrf]").first.input_value()
    forged = page.request.post(
        f"{base}/workbench/decide", form={"merchant_id": "M00000001", "csrf": "forged"}
    )
    assert forged.status == 403
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/workbench/sign-in")
    replayed = page.request.post(
        f"{base}/workbench/decide", form={"merchant_id": "M00000001", "csrf": csrf}
    )
    assert replayed.status == 403
    page.goto(f"{base}/workbench/queue")
    expect(page).to_have_url(f"{base}/workbench/sign-in?next=/workbench/queue")
    context.close()
