from flask import Blueprint, redirect, url_for

bp = Blueprint("registration", __name__)


@bp.get("/summit")
def summit():
    return redirect(url_for("pages.home"))
