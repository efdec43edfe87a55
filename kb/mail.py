"""Email: ``compose`` a message, ``send(config, message)`` it.

With ``MAIL_URL`` set (``smtp://user:password@host:587?starttls=1``, or ``smtps://`` for TLS
from the first byte) messages go to that SMTP server. Without it, each message is written as an
``.eml`` file under ``MAIL_DIR`` (``instance/mail/``), to read in any mail program: enough for
development, and what ``make run`` does. An outbox will later sit in front of ``send``.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SMTP_TIMEOUT = 10  # seconds


class MailError(RuntimeError):
    """The message could not be handed over; ``str()`` says why (never the password)."""


def compose(config: Mapping, *, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message from ``MAIL_FROM`` to ``to``."""
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2].strip(">"))
    message.set_content(body)
    return message


def send(config: Mapping, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server in ``MAIL_URL``, or write it under ``MAIL_DIR``."""
    url = config.get("MAIL_URL") or ""
    if not url:
        _write(Path(config["MAIL_DIR"]), message)
        return
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise MailError("MAIL_URL must look like smtp://user:password@host:587?starttls=1")
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}
    port = parts.port or (465 if parts.scheme == "smtps" else 587 if starttls else 25)
    context = ssl.create_default_context()
    try:
        if parts.scheme == "smtps":
            server = smtplib.SMTP_SSL(parts.hostname, port, timeout=SMTP_TIMEOUT, context=context)
        else:
            server = smtplib.SMTP(parts.hostname, port, timeout=SMTP_TIMEOUT)
        with server:
            if starttls:
                server.starttls(context=context)
            if parts.username:
                server.login(unquote(parts.username), unquote(parts.password or ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"{parts.hostname}:{port}: {error.__class__.__name__}: {error}") from None


def _write(folder: Path, message: EmailMessage) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")  # sorts in the order sent
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(message))
    return path
