"""kb/mail.py: messages go to an SMTP server given by MAIL_URL (here a small one on loopback
that speaks just enough SMTP), or into .eml files when none is set."""

from __future__ import annotations

import base64
import socket
import threading
from email import message_from_bytes, policy

import pytest

from kb import mail

CONFIG = {"MAIL_FROM": "Span <span@span.example>", "MAIL_URL": "", "MAIL_DIR": ""}


class SMTPServer:
    """Accepts one connection on loopback and records the envelope, login and message."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.received: dict = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.socket.accept()
        with connection, connection.makefile("rb") as reader:

            def say(line: str) -> None:
                connection.sendall(line.encode() + b"\r\n")

            say("220 test ESMTP")
            while line := reader.readline().decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    say("250-test")
                    say("250 AUTH PLAIN")
                elif verb == "AUTH":
                    self.received["login"] = base64.b64decode(line.split()[-1]).split(b"\0")[1:]
                    say("235 ok")
                elif verb in {"MAIL", "RCPT"}:
                    self.received.setdefault(verb, []).append(line.split(":", 1)[1])
                    say("250 ok")
                elif verb == "DATA":
                    say("354 go on")
                    data = b""
                    while (chunk := reader.readline()) != b".\r\n":
                        data += chunk
                    self.received["message"] = data
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")

    def close(self) -> None:
        self.thread.join(timeout=5)
        self.socket.close()


@pytest.fixture
def smtp():
    server = SMTPServer()
    yield server
    server.close()


def _message():
    return mail.compose(CONFIG, to="sam@example.org", subject="Hello", body="Body text.\n")


def test_a_message_goes_to_the_smtp_server_in_mail_url(smtp):
    config = {**CONFIG, "MAIL_URL": f"smtp://span%40mail:p%40ss@127.0.0.1:{smtp.port}"}
    mail.send(config, _message())
    smtp.thread.join(timeout=5)
    assert smtp.received["login"] == [b"span@mail", b"p@ss"]
    assert smtp.received["MAIL"] == ["<span@span.example>"]
    assert smtp.received["RCPT"] == ["<sam@example.org>"]
    message = message_from_bytes(smtp.received["message"], policy=policy.default)
    assert message["Subject"] == "Hello" and message.get_content().strip() == "Body text."


def test_a_server_that_cannot_be_reached_is_a_mail_error_without_the_password():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again before use
    config = {**CONFIG, "MAIL_URL": f"smtp://user:secret@127.0.0.1:{port}"}
    with pytest.raises(mail.MailError) as refused:
        mail.send(config, _message())
    assert "secret" not in str(refused.value) and f"127.0.0.1:{port}" in str(refused.value)


def test_a_bad_mail_url_is_a_mail_error():
    with pytest.raises(mail.MailError, match="smtp://"):
        mail.send({**CONFIG, "MAIL_URL": "http://example.org"}, _message())


def test_without_mail_url_messages_are_written_as_eml_files(tmp_path):
    mail.send({**CONFIG, "MAIL_DIR": str(tmp_path / "mail")}, _message())
    (written,) = (tmp_path / "mail").glob("*.eml")
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == "sam@example.org" and message["From"] == CONFIG["MAIL_FROM"]
    assert message["Message-ID"].endswith("@span.example>")
