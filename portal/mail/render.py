"""Render an email's three templates (templates/email/<name>/) into sendable parts."""
from dataclasses import dataclass

import css_inline
from flask import render_template

from portal.links import base_url

_inliner = None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _inline_css(html: str) -> str:
    global _inliner
    if _inliner is None:
        # Templates carry their CSS in <style>; mail clients need it on each element.
        # keep_at_rules keeps any @media rule in a <style> for the clients that read it.
        _inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False, keep_at_rules=True)
    return _inliner.inline(html)


def render_email(name: str, context: dict) -> RenderedEmail:
    context = {"base_url": base_url(), **context}
    subject = render_template(f"email/{name}/subject.txt", **context)
    # A subject is one header line: collapse whatever whitespace the template produced.
    subject = " ".join(subject.split())
    text = render_template(f"email/{name}/body.txt", **context).strip() + "\n"
    html = ascii_html(_inline_css(render_template(f"email/{name}/body.html", **context)))
    return RenderedEmail(subject=subject, text=text, html=html)


def ascii_html(html: str) -> str:
    """Every non-ASCII character as a numeric character reference ("·" becomes "&#183;").

    The same page to every reader, but an ASCII HTML part goes out as 7bit
    instead of quoted-printable: smaller, readable in the raw, and no QP
    encoding of ~10 kB per message at delivery. Not where a <style> is left
    (only @media rules stay after inlining): references mean nothing in CSS.
    """
    if html.isascii() or "<style" in html:
        return html
    return html.encode("ascii", "xmlcharrefreplace").decode("ascii")
