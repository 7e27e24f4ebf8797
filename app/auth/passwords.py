"""Password hashing (Argon2id through pwdlib)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher().verify(password, password_hash)


@lru_cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist.

    Checking a password costs the same whether or not the name is known, so response
    times do not tell an attacker which usernames exist.
    """
    return hash_password("curator-dummy-password")
