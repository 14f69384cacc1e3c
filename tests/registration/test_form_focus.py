"""After a failed submit the error summary has focus, and its links leave each field's label, hint and error in view."""
import pytest

from tests.support.registration import new_event


def _submit_with_errors(page, url: str) -> None:
    page.goto(url)
    page.get_by_label("First name").fill("Grace")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector(".error-summary")


def _in_view(page, selector: str) -> bool:
    top, bottom, height = page.eval_on_selector(
        selector, "el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom, innerHeight]; }"
    )
    assert 0 <= top and bottom <= height, (selector, top, bottom, height)
    return True


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}])
def test_error_summary_takes_focus_and_its_links_keep_label_hint_and_error_in_view(
    make_app, live_server, chromium, viewport
):
    app = make_app()
    slug = new_event(app)
    # Reduced motion: the jump is instant, so the test reads the final position.
    context = chromium.new_context(viewport=viewport, reduced_motion="reduce")
    page = context.new_page()
    try:
        url = f"{live_server.url}/events/{slug}/register"
        _submit_with_errors(page, url)
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")

        page.get_by_role("link", name="Email address: Enter your email address.").click()
        for part in ("label[for=email]", "#email-hint", "#email-error", "#email"):
            assert _in_view(page, part), part

        _submit_with_errors(page, url)
        page.locator(".error-summary a[href='#days-0']").click()
        for part in ("fieldset:has(#days-0) legend", "#days-hint", "#days-error", "#days-0"):
            assert _in_view(page, part), part
    finally:
        context.close()
