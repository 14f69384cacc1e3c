from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    return render_template("pages/home.html")


@bp.get("/priorities")
def priorities():
    return render_template("pages/home.html")


@bp.get("/resources")
def resources():
    return render_template("pages/home.html")
