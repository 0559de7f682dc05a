"""Secret tokens for links and API access: 256 bits from `secrets`, stored only as a SHA-256
hash, so a leaked database gives no working link. Lookups compare hashes, found by an indexed
column; `hmac.compare_digest` guards the final comparison."""

import hashlib
import hmac
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)
