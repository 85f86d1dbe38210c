"""Write the signed sample requests in requests/ from the push payloads in payloads/.

Each file is the raw HTTP request GitHub delivers for a push webhook with a secret configured:
the JSON body as stored, ``X-GitHub-Event: push``, a fixed ``X-GitHub-Delivery`` (so a replay is
recognisable) and ``X-Hub-Signature-256`` over the exact body bytes, keyed by
secrets/github-webhook/secret. Run: ``.venv/bin/python examples/monorepo/make_requests.py``.
"""

from __future__ import annotations

from pathlib import Path

from kfp_triggers.interceptors.signature import sign

HERE = Path(__file__).parent
DELIVERIES = {
    "push-training": "5d0c1e7a-ce61-11f0-9b0e-2a7c4f1d8e01",
    "push-docs": "5d0c1e7a-ce61-11f0-9b0e-2a7c4f1d8e02",
}


def request_bytes(body: bytes, delivery: str, secret: bytes) -> bytes:
    """The request line, GitHub's delivery headers and the body, with CRLF line ends."""
    headers = {
        "Host": "hooks.example.com",
        "User-Agent": "GitHub-Hookshot/7d3a1c2",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "519204388",
        "X-Hub-Signature-256": sign(body, secret),
    }
    lines = ["POST / HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return "\r\n".join([*lines, "", ""]).encode("ascii") + body


if __name__ == "__main__":
    key = (HERE / "secrets" / "github-webhook" / "secret").read_bytes()
    for stem, delivery in DELIVERIES.items():
        payload = (HERE / "payloads" / f"{stem}.json").read_bytes()
        (HERE / "requests" / f"{stem}.http").write_bytes(request_bytes(payload, delivery, key))
