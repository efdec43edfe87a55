"""Every response names its request id, and every log line written for it carries the same."""

from __future__ import annotations

import logging
import re

import pytest

from tests.conftest import make_app

LINE = re.compile(r"^(GET|POST) (/\S*) (\d{3}) (\d+\.\d)ms$")


def test_every_response_has_its_own_request_id(client):
    ids = [client.get(url).headers["X-Request-Id"] for url in ("/", "/", "/nothing-here")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 3


def test_one_log_line_per_request_with_method_path_status_duration_and_id(client, caplog):
    caplog.set_level(logging.INFO, logger="kb.requests")
    responses = [client.get("/about?q=secret+words"), client.get("/entries/nothing-here")]
    lines = [r for r in caplog.records if r.name == "kb.requests"]
    assert len(lines) == 2
    for record, response, path, status in zip(
        lines, responses, ["/about", "/entries/nothing-here"], [200, 404], strict=True
    ):
        method, logged_path, logged_status, _ms = LINE.fullmatch(record.getMessage()).groups()
        assert (method, logged_path, int(logged_status)) == ("GET", path, status)
        assert record.request_id == response.headers["X-Request-Id"]
    assert "secret" not in caplog.text  # query strings (what people searched for) stay out


def test_an_error_logged_during_a_request_names_its_id(tmp_path, catalogue_url, caplog):
    app = make_app(tmp_path / "instance", catalogue_url, TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("an internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    errors = [r for r in caplog.records if "an internal detail" in r.getMessage()]
    assert errors and errors[0].request_id == response.headers["X-Request-Id"]


@pytest.mark.parametrize(
    ("proxies", "sent", "kept"),
    [
        (0, "proxy-id-12345678", False),  # without a trusted proxy a client could pick it
        (1, "proxy-id-12345678", True),
        (1, "bad id; forged=line", False),
        (1, "x" * 65, False),
    ],
)
def test_an_incoming_id_is_kept_only_from_a_trusted_proxy_and_well_formed(
    tmp_path, catalogue_url, proxies, sent, kept
):
    app = make_app(tmp_path / "instance", catalogue_url, TRUSTED_PROXIES=proxies)
    answered = app.test_client().get("/about", headers={"X-Request-Id": sent})
    assert (answered.headers["X-Request-Id"] == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,64}", answered.headers["X-Request-Id"])
