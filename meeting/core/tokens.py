"""Secret tokens for links and API access: 256 bits from `secrets`, stored only as a SHA-256
hash, so a leaked database gives no working link. Lookups compare hashes, found by an indexed
column; `hmac.compare_digest` guards the final comparison."""

import base64
import hashlib
import hmac
import secrets

from flask import current_app


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def derived_token(purpose: str, ident, nonce: str) -> str:
    """A 256-bit token that can be built again from what the database keeps (`ident` and a random
    `nonce`) and the app's SECRET_KEY, so that a reminder carries the same link as the first email
    while only the hash of the token is stored. A new nonce makes a new token (the old one dies)."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else str(key).encode()
    digest = hmac.new(key, f"{purpose}:{ident}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
