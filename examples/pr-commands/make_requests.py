"""Write the payloads in payloads/ and the signed sample requests in requests/.

The payloads are GitHub's published webhook examples (octokit/webhooks, MIT; the copies in
tests/unit/pr_commands_data, SOURCE.md there) made into one story on Codertocat/Hello-World: pull
request #2 opened by Codertocat, who has write access; comments on it; and pull request #3 opened
from a fork by Forker, who has not. A comment on a pull request carries ``issue.pull_request``,
which GitHub's issue comment example (a comment on an issue) lacks, so it is added here.

Each request is what GitHub delivers with a webhook secret configured: the JSON body,
``X-GitHub-Event``, a fixed ``X-GitHub-Delivery`` and ``X-Hub-Signature-256`` over the exact body
bytes, keyed by secrets/github-webhook/secret.
Run: ``.venv/bin/python examples/pr-commands/make_requests.py``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from kfp_triggers.interceptors.signature import sign

HERE = Path(__file__).parent
SOURCES = HERE.parent.parent / "tests" / "unit" / "pr_commands_data"
FORK_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
# request file stem: (comment text, commenter, pull request number, comment id)
COMMENTS = {
    "retest": ("/retest", "Codertocat", 2, 1001),
    "retest-evaluate": ("/retest evaluate", "Codertocat", 2, 1002),
    "retest-by-stranger": ("/retest", "Forker", 2, 1003),
    "cancel": ("/cancel", "Codertocat", 2, 1004),
    "ok-to-test": ("/ok-to-test", "Codertocat", 3, 1005),
}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SOURCES / name).read_text())
    return data


def pull_request_opened() -> dict[str, Any]:
    """GitHub's ``pull_request`` ``opened`` example as it is: #2, from a branch of the same repository."""
    return _load("github-pull-request-opened.json")


def fork_pull_request_opened() -> dict[str, Any]:
    """The same event for #3, opened by Forker from Forker/Hello-World."""
    body = pull_request_opened()
    body["number"] = 3
    pull = body["pull_request"]
    pull["number"] = 3
    pull["html_url"] = "https://github.com/Codertocat/Hello-World/pull/3"
    pull["user"]["login"] = body["sender"]["login"] = "Forker"
    pull["head"]["sha"] = FORK_SHA
    pull["head"]["label"] = "Forker:changes"
    pull["head"]["repo"]["full_name"] = "Forker/Hello-World"
    pull["head"]["repo"]["owner"]["login"] = "Forker"
    return body


def comment(text: str, login: str, number: int, comment_id: int) -> dict[str, Any]:
    """GitHub's ``issue_comment`` ``created`` example, on pull request ``number``."""
    body = _load("github-issue-comment-created.json")
    issue = body["issue"]
    issue["number"] = number
    issue["pull_request"] = {
        "url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{number}",
        "html_url": f"https://github.com/Codertocat/Hello-World/pull/{number}",
    }
    note = body["comment"]
    note["id"] = comment_id
    note["body"] = text
    note["user"] = copy.deepcopy(note["user"])
    note["user"]["login"] = body["sender"]["login"] = login
    return body


def payloads() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every sample: file stem -> (``X-GitHub-Event``, payload)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {
        "pull-request-opened": ("pull_request", pull_request_opened()),
        "fork-pull-request-opened": ("pull_request", fork_pull_request_opened()),
    }
    for stem, args in COMMENTS.items():
        out[stem] = ("issue_comment", comment(*args))
    return out


def request_bytes(body: bytes, event: str, delivery: str, secret: bytes) -> bytes:
    """The request line, GitHub's delivery headers and the body, with CRLF line ends."""
    headers = {
        "Host": "hooks.example.com",
        "User-Agent": "GitHub-Hookshot/7d3a1c2",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "519204388",
        "X-Hub-Signature-256": sign(body, secret),
    }
    lines = ["POST / HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return "\r\n".join([*lines, "", ""]).encode("ascii") + body


def files() -> dict[str, bytes]:
    """Every file this script writes, by path relative to the example."""
    secret = (HERE / "secrets" / "github-webhook" / "secret").read_bytes()
    out: dict[str, bytes] = {}
    for index, (stem, (event, payload)) in enumerate(sorted(payloads().items()), 1):
        body = (json.dumps(payload, indent=2) + "\n").encode()
        out[f"payloads/{stem}.json"] = body
        delivery = f"7a1f3c9e-d2b4-11f0-9c1e-5b3d8e2f{index:04d}"
        out[f"requests/{stem}.http"] = request_bytes(body, event, delivery, secret)
    return out


def main() -> None:
    """Write every payload and request file."""
    for name, data in files().items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
