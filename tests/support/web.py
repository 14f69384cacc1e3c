"""Reading pages in tests: the CSRF token of a form, and the text a visitor reads."""
import re

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def page_text(response) -> str:
    """The <main> of a page as one line of text, for asserting on what a visitor reads."""
    html = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    main = html[html.index("<main"): html.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


