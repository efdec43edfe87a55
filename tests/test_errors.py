"""Error pages and security headers: no traceback reaches a reader, ever."""

from __future__ import annotations

import pytest

from tests.conftest import make_app


def _failing_app(tmp_path, catalogue_url):
    app = make_app(tmp_path / "instance", catalogue_url, TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail /srv/kb/models.py line 42")

    return app


def test_unhandled_error_shows_a_friendly_500_without_traceback(tmp_path, catalogue_url, caplog):
    response = _failing_app(tmp_path, catalogue_url).test_client().get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in html
    for leak in ("Traceback", "RuntimeError", "secret internal detail", "models.py"):
        assert leak not in html
    assert "secret internal detail" in caplog.text, "the error is logged for operators"


def test_404_page_is_friendly(client):
    response = client.get("/entries/nothing-here")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_405_page(client):
    response = client.post("/")
    assert response.status_code == 405
    assert "Traceback" not in response.get_data(as_text=True)


def test_security_headers_on_every_response(client):
    for url in ("/", "/entries/nothing-here", "/static/css/span.css"):
        with client.get(url) as response:
            headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


NO_SCRIPT_PAGES = [
    "/", "/sectors", "/sectors/police?channel=x-twitter", "/channels", "/channels/qr-codes",
    "/topics", "/topics/evaluation", "/orgs", "/orgs/eastmarch-police", "/about",
    "/entries/strathbeck-channel-for-the-job-matrix", "/entries/nothing-here",
]  # fmt: skip


@pytest.mark.parametrize("url", NO_SCRIPT_PAGES)
def test_pages_carry_no_inline_script_or_style(client, url):
    """Every page works without JavaScript, and the CSP needs no inline exceptions."""
    html = client.get(url).get_data(as_text=True)
    assert "<script" not in html and "style=" not in html and "<style" not in html
