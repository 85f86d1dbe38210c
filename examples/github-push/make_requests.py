"""Regenerate the signed sample requests in requests/ from the payloads in payloads/.

Each request is what GitHub sends for a push webhook with a secret configured: the JSON body,
``X-GitHub-Event``, a fixed ``X-GitHub-Delivery`` and ``X-Hub-Signature-256`` computed over the
exact body bytes with the secret in secrets/github-webhook/secret.
Run: ``.venv/bin/python examples/github-push/make_requests.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

HERE = Path(__file__).parent
REQUESTS = {
    "push.http": ("push.json", "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"),
    "push-tag.http": ("push-tag.json", "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b02"),
}


def signed_request(body: bytes, secret: bytes, delivery: str) -> bytes:
    """A raw HTTP/1.1 request as GitHub's webhook delivery would send it."""
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
    head = [
        "POST / HTTP/1.1",
        "Host: hooks.example.com",
        "User-Agent: GitHub-Hookshot/7d3a1c2",
        "Accept: */*",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-GitHub-Event: push",
        f"X-GitHub-Delivery: {delivery}",
        "X-GitHub-Hook-ID: 482913077",
        "X-GitHub-Hook-Installation-Target-ID: 718220394",
        "X-GitHub-Hook-Installation-Target-Type: repository",
        f"X-Hub-Signature-256: sha256={signature}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def main() -> None:
    """Write every request file."""
    secret = (HERE / "secrets" / "github-webhook" / "secret").read_bytes()
    for name, (payload, delivery) in REQUESTS.items():
        body = (HERE / "payloads" / payload).read_bytes()
        (HERE / "requests" / name).write_bytes(signed_request(body, secret, delivery))


if __name__ == "__main__":
    main()
