"""The floor: a bare Flask app answering a small page, served the same way."""

from flask import Flask

app = Flask(__name__)
PAGE = "<!doctype html><title>floor</title><p>" + "calm " * 200 + "</p>"


@app.get("/")
def index():
    return PAGE
