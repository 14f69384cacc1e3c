"""Camera check-in where the browser has no BarcodeDetector: the portal's own ZXing copy reads the badge."""
from urllib.parse import urlsplit

import pytest
import segno
from playwright.sync_api import expect

from tests.support.admin import PASSWORD, STAFF_EMAIL, add_account
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PageWatch
from tests.support.registration import add_registration, new_event

WIDTH, HEIGHT = 640, 480


def write_camera_feed(path, text: str) -> None:
    """A still YUV4MPEG2 clip of `text` as a QR code, for Chromium's fake camera (grey: U and V at 128)."""
    rows = [list(row) for row in segno.make_qr(text).matrix_iter(scale=8, border=4)]
    top, left = (HEIGHT - len(rows)) // 2, (WIDTH - len(rows[0])) // 2
    luma = bytearray(b"\xff" * (WIDTH * HEIGHT))
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                luma[(top + y) * WIDTH + left + x] = 0
    chroma = b"\x80" * (WIDTH * HEIGHT // 2)
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + bytes(luma) + chroma)


@pytest.fixture
def camera_page(playwright_driver, tmp_path):
    """A phone-sized page in a Chromium whose camera films the file `tmp_path/camera.y4m` (write it first)."""
    feed = tmp_path / "camera.y4m"
    browser = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-video-capture={feed}"])
    context = browser.new_context(viewport={"width": 390, "height": 844}, permissions=["camera"])
    # Chromium has BarcodeDetector on some platforms: take it away, as Safari and Firefox do not have it.
    context.add_init_script("delete window.BarcodeDetector;")
    page = context.new_page()
    page.watch = PageWatch(page)
    yield page, feed
    browser.close()


@pytest.mark.browser
def test_without_barcode_detector_the_camera_checks_a_badge_in_with_the_served_decoder(
        make_app, portal_server, camera_page):
    page, feed = camera_page
    app = make_app()
    add_account(app, STAFF_EMAIL, role="staff")
    slug = new_event(app)
    grace = add_registration(app, slug, email="grace@example.org", first_name="Grace", last_name="Hopper")
    write_camera_feed(feed, grace.code)
    server = portal_server()

    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{server.url}/admin/check-in")
    assert page.evaluate("'BarcodeDetector' in window") is False
    scripts = []
    page.on("request", lambda request: scripts.append(urlsplit(request.url).path)
            if request.resource_type == "script" else None)
    page.get_by_role("button", name="Scan QR code with the camera").click()

    expect(page.get_by_role("alert")).to_contain_text("Checked in: Grace Hopper", timeout=20_000)
    assert any(path.startswith("/static/vendor/zxing-library") for path in scripts)
    assert page.watch.external_requests == []
    assert page.watch.console_errors == []
