"""The base of the portal's forms: text only, so a file sent in place of text is a field error."""
from flask import request
from flask_wtf import FlaskForm

FILE_IN_TEXT_FIELD = "Please type this in: files cannot be sent with this form."


class TextForm(FlaskForm):
    """A form whose fields are all text.

    Flask-WTF mixes uploaded files into the form data, and a file object where a
    validator expects text would be a 500. Files are left out instead, and any
    field a file was sent for fails with its own message.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            formdata = super().wrap_formdata(form, formdata)
            if formdata is not None and request.files:
                form._file_fields = set(request.files)
                return request.form
            return formdata

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name in getattr(self, "_file_fields", ()):
            field = self._fields.get(name)
            if field is not None:
                field.errors = [FILE_IN_TEXT_FIELD]
                valid = False
        return valid
