"""Reading dashboard pages in tests: the text a person sees, and the links they can follow."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.text.append(" ")
        if tag in ("style", "script", "title"):
            self._skip += 1
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        self.text.append(" ")
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def visible(html: str) -> str:
    """The page's text, a space between elements and whitespace runs collapsed to one space."""
    return re.sub(r"\s+", " ", "".join(_parse(html).text)).strip()


def links(html: str) -> list[str]:
    """Every ``<a href>`` on the page, in order."""
    return _parse(html).links
