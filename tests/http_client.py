"""A small HTTP client for tests against a real server on loopback: cookies, CSRF tokens and
signing in, one connection per request, never following redirects."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from tests.editor_support import Page

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str
    seconds: float


class Client:
    """One visitor (or signed-in person) of the server at ``port``."""

    def __init__(self, port: int, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: MultiDict | dict | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            pairs = form.items(multi=True) if isinstance(form, MultiDict) else form.items()
            body = urlencode(list(pairs)).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return Answer(response.status, response.headers, text, time.monotonic() - started)

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, form: MultiDict | dict) -> Answer:
        return self.request("POST", path, form)

    def sign_in(self, email: str, password: str) -> None:
        page = self.get("/login")
        token = CSRF.search(page.text).group(1)
        answer = self.post("/login", {"csrf_token": token, "email": email, "password": password})
        assert answer.status == 302, (email, answer.status, answer.text[:300])

    def edit_form(self, slug: str) -> MultiDict | None:
        """The entry's edit form as a browser would submit it, or None if the page failed."""
        page = self.get(f"/entries/{slug}/edit")
        if page.status != 200:
            return None
        form = Page(page.text).form("/edit")
        form["action"] = "save"
        return form
