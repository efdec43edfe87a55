"""Password hashing (werkzeug) and the strength rule.

The rule follows the NCSC's advice rather than composition rules: long enough (three random
words make a good one), not a commonly used password, and not the person's own email or name.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 200
# A short list of the passwords people reach for first; long enough ones that would still pass.
COMMON = frozenset(
    {
        "password1234", "passwordpassword", "123456789012", "qwertyuiopas", "letmein12345",
        "iloveyou1234", "welcome12345", "administrator", "changeme1234", "password123!",
        "qwerty123456", "abcdefghijkl", "1q2w3e4r5t6y", "trustno1trustno1", "span-password",
    }
)  # fmt: skip


def hash_password(password: str) -> str:
    """A salted hash; the method is configurable so tests need not pay for scrypt each time."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches. Without a hash (no such account), a dummy one is checked
    anyway, so the time taken does not tell whether an account exists."""
    if password_hash is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return check_password_hash(password_hash, password)


def password_problems(password: str, *, email: str = "", display_name: str = "") -> list[str]:
    """Why ``password`` is too weak, in words a person can act on (empty when it is fine)."""
    problems = []
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        problems.append(
            f"Password must be at least {MIN_LENGTH} characters. "
            "Three random words together make a strong one."
        )
    elif len(password) > MAX_LENGTH:
        problems.append(f"Password must be {MAX_LENGTH} characters or fewer.")
    elif lowered in COMMON or len(set(lowered)) < 4:
        problems.append("That password is too easy to guess. Try three random words together.")
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in lowered or email and lowered == email.lower():
        problems.append("Password must not contain your email address.")
    elif display_name and len(display_name) >= 4 and display_name.lower() in lowered:
        problems.append("Password must not contain your name.")
    return problems
