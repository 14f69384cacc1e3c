"""/dev/mail: the development mailbox, registered only on the embedded default."""
import base64
import email
import email.policy
import mailbox
from pathlib import Path

from flask import Blueprint, abort, current_app, make_response, render_template

bp = Blueprint("dev_mail", __name__, url_prefix="/dev/mail")


def _mailbox() -> mailbox.Maildir:
    return mailbox.Maildir(Path(current_app.config["DEV_MAILBOX"]), create=True)


def _parse(key: str):
    box = _mailbox()
    try:
        raw = box.get_bytes(key)
    except (KeyError, ValueError):
        abort(404)
    return email.message_from_bytes(raw, policy=email.policy.default)


def _html_with_inline_images(message) -> str | None:
    html_part = message.get_body(preferencelist=("html",))
    if html_part is None:
        return None
    html = html_part.get_content()
    for part in message.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode()
            html = html.replace(f"cid:{cid.strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return html


@bp.get("/")
def inbox():
    box = _mailbox()
    messages = []
    for key in box.keys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        messages.append({"key": key, "to": msg["To"], "subject": msg["Subject"], "date": msg["Date"],
                         "timestamp": box.get_message(key).get_date()})
    messages.sort(key=lambda m: m["timestamp"], reverse=True)
    return render_template("dev_mail/inbox.html", messages=messages)


@bp.get("/<key>")
def message(key: str):
    msg = _parse(key)
    text_part = msg.get_body(preferencelist=("plain",))
    attachments = [
        {"filename": part.get_filename(), "content_type": part.get_content_type()}
        for part in msg.iter_attachments()
    ]
    return render_template(
        "dev_mail/message.html",
        key=key,
        msg=msg,
        text=text_part.get_content() if text_part else "",
        attachments=attachments,
    )


@bp.get("/<key>/html")
def message_html(key: str):
    html = _html_with_inline_images(_parse(key))
    if html is None:
        abort(404)
    response = make_response(html)
    # Shown in a sandboxed frame on the message page; email HTML carries inline styles only.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<key>/raw")
def message_raw(key: str):
    try:
        raw = _mailbox().get_bytes(key)
    except (KeyError, ValueError):
        abort(404)
    response = make_response(raw)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response
