"""What every form of the portal shares: text-only forms, and the checks on typed text.

Text is stripped and checked for length and for characters that have no place
in it: control characters (CR/LF above all, which could split an email header)
and, in names and other one-line fields, angle brackets. Pages escape
everything anyway; refusing these keeps the data clean for badges, exports
and email headers.
"""
import re
import unicodedata
from urllib.parse import parse_qsl

from email_validator import EmailNotValidError, validate_email
from flask import Request, request
from flask_wtf import FlaskForm
from werkzeug.formparser import FormDataParser
from wtforms.validators import DataRequired, Length, ValidationError

FILE_IN_TEXT_FIELD = "Please type this in: files cannot be sent with this form."


class TextForm(FlaskForm):
    """A form whose fields are all text, and valid UTF-8.

    Flask-WTF mixes uploaded files into the form data, and a file object where a
    validator expects text would be a 500. Files are left out instead, and any
    field a file was sent for fails with its own message. Bytes that are not
    UTF-8 reach a field as U+FFFD (see PortalRequest), and would be stored
    and mailed like that: such a field fails too.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            formdata = super().wrap_formdata(form, formdata)
            if formdata is None:
                return None
            form._undecodable_fields = _undecodable_fields()
            if request.files:
                form._file_fields = set(request.files)
                return request.form
            return formdata

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for names, message in ((getattr(self, "_file_fields", ()), FILE_IN_TEXT_FIELD),
                               (getattr(self, "_undecodable_fields", ()), NOT_UTF8)):
            for name in names:
                field = self._fields.get(name)
                if field is not None:
                    field.errors = [message]
                    valid = False
        return valid


class ButtonForm(TextForm):
    """Just the CSRF token: for an action that is one button on a page that explains it."""


NOT_UTF8 = "Some characters here could not be read. Please type this again."


def _undecodable_fields() -> set[str]:
    """Names of posted fields whose raw value was not valid UTF-8 (decoded to U+FFFD by PortalRequest)."""
    return {name for name, value in request.form.items(multi=True) if "\ufffd" in value}


class _ReplacingFormDataParser(FormDataParser):
    """Urlencoded bodies decoded as multipart ones are: a byte that is not UTF-8 becomes U+FFFD.

    Werkzeug turns such a byte in an urlencoded value back into the text "%FF",
    which cannot be told from a visitor who typed "%FF"; and the raw body is
    gone by the time a form sees the data (the CSRF check parses it first).
    """

    def parse(self, stream, mimetype, content_length, options=None):
        if mimetype != "application/x-www-form-urlencoded":
            return super().parse(stream, mimetype, content_length, options)
        # The stream is already limited to MAX_CONTENT_LENGTH, as for Werkzeug's own parser.
        text = stream.read().decode("utf-8", "replace")
        return stream, self.cls(parse_qsl(text, keep_blank_values=True, errors="replace")), self.cls()


class PortalRequest(Request):
    """The app's request class (create_app sets it): forms decoded by _ReplacingFormDataParser."""

    form_data_parser_class = _ReplacingFormDataParser


# C0 controls (CR, LF, TAB...), DEL, C1 controls, and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, but a multi-line field may contain line breaks.
_CONTROL_EXCEPT_NEWLINE = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_ANGLE_BRACKET = re.compile(r"[<>]")
# Zero-width non-joiner and joiner between two visible characters: Persian and other
# scripts need ZWNJ inside ordinary words, and every ZWJ emoji sequence is built with
# ZWJ (a woman scientist is U+1F469 U+200D U+1F52C). Anywhere else (leading, trailing,
# next to a space or to each other) they only hide something.
_JOINER_INSIDE = re.compile(r"(?<=[^\s\u200c\u200d])[\u200c\u200d](?=[^\s\u200c\u200d])")
# Tag characters are invisible too, except in the flag emoji of a region (🏴 + tags + cancel tag).
_EMOJI_TAG_SEQUENCE = re.compile(r"\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F")
# Invisible characters Unicode does not class as format characters (Cf): the combining
# grapheme joiner and the Hangul fillers, which show as blank space.
_INVISIBLE_LETTERS = re.compile(r"[\u034f\u115f\u1160\u3164\uffa0]")
_MARKUP_TAG = re.compile(r"<\s*[a-zA-Z/!?]")


def _has_invisible(text: str) -> bool:
    """True for text with an invisible character that is not a joiner inside a word.

    That is any format character (Unicode category Cf: zero-width spaces, direction
    marks, bidi embeddings, overrides and isolates, BOM, soft hyphens...) and the blank
    letters above. In a name on a badge or an export they hide or reorder what a reader sees.
    """
    if text.isascii():
        return False
    text = _EMOJI_TAG_SEQUENCE.sub("", _JOINER_INSIDE.sub("", text))
    return _INVISIBLE_LETTERS.search(text) is not None or any(unicodedata.category(c) == "Cf" for c in text)


def strip(value):
    return value.strip() if isinstance(value, str) else value


def normalize_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def single_line(form, field):
    if field.data and _CONTROL.search(field.data):
        raise ValidationError("Please use only letters, numbers and punctuation, on one line (no line breaks or tabs).")
    if field.data and _ANGLE_BRACKET.search(field.data):
        raise ValidationError("Please remove the angle brackets (< and >).")
    if field.data and _has_invisible(field.data):
        raise ValidationError("Please remove invisible formatting characters (such as zero-width spaces or "
                              "text-direction marks).")


def multi_line(form, field):
    if field.data and _CONTROL_EXCEPT_NEWLINE.search(field.data):
        raise ValidationError("Please remove tabs and other invisible control characters.")
    if field.data and _MARKUP_TAG.search(field.data):
        raise ValidationError("Please remove anything that looks like an HTML tag (text between < and >).")


def deliverable_looking_email(form, field):
    """Syntax only (no DNS lookup, so a POST stays fast and works offline); the value is kept as typed."""
    if not field.data:
        return
    if _CONTROL.search(field.data):
        raise ValidationError("Enter an email address on one line, like name@example.org.")
    try:
        validate_email(field.data, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid email address, like name@example.org. {exc}") from None


def required(what: str):
    # DataRequired looks at the stripped value, so "   " counts as empty.
    return DataRequired(message=f"Enter your {what}.")


def too_long(limit: int):
    return Length(max=limit, message=f"Please keep this to {limit} characters or fewer.")
