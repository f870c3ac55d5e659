"""A strict reading of the report page: a tree that is refused unless every element closes
in order, plus the queries the tests ask of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


class NotWellFormed(AssertionError):
    pass


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> list[Element]:
        found = [self]
        for child in self.children:
            if isinstance(child, Element):
                found += child.iter()
        return found

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def by_class(self, name: str) -> list[Element]:
        return [e for e in self.iter() if name in e.classes()]

    def by_tag(self, tag: str) -> list[Element]:
        return [e for e in self.iter() if e.tag == tag]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._element(tag, attrs)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        in_svg = any(e.tag == "svg" for e in self.stack) or tag == "svg"
        if tag not in VOID and not in_svg:
            raise NotWellFormed(f"<{tag}/> is not a void element")
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            raise NotWellFormed(f"</{tag}> closes a void element")
        open_tag = self.stack[-1].tag
        if open_tag != tag:
            raise NotWellFormed(f"</{tag}> closes <{open_tag}> at {self.getpos()}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        names = [name for name, _ in attrs]
        if len(set(names)) != len(names):
            raise NotWellFormed(f"<{tag}> repeats an attribute: {names}")
        element = Element(tag, {name: value or "" for name, value in attrs})
        if "id" in element.attrs:
            if element.attrs["id"] in self.ids:
                raise NotWellFormed(f"id {element.attrs['id']!r} twice")
            self.ids.add(element.attrs["id"])
        self.stack[-1].children.append(element)
        return element


def parse_page(page: str) -> Element:
    """The page's tree; NotWellFormed unless it is a doctype and one closed <html>."""
    if not page.startswith("<!DOCTYPE html>"):
        raise NotWellFormed("no doctype")
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    if len(builder.stack) != 1:
        raise NotWellFormed(f"unclosed: {[e.tag for e in builder.stack[1:]]}")
    return builder.root


# An attribute that loads or links anything but a fragment of this page, or CSS that does.
_REFERENCE = re.compile(
    r"""\b(?:src|href|xlink:href|action|srcset|poster|data)\s*=\s*(?!["']?#)"""
    r"""|@import|url\(\s*(?!["']?#)""",
    re.IGNORECASE,
)
SVG_NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'


def outside_references(page: str) -> list[str]:
    """Every reference that leaves the page, and every http(s) address; the SVG namespace
    declaration is a name, not an address, and is left out."""
    page = page.replace(SVG_NAMESPACE, "")
    found = [m.group(0) for m in _REFERENCE.finditer(page)]
    return found + re.findall(r"https?://", page, re.IGNORECASE)


def svg_part(page: str) -> str:
    start = page.index("<svg")
    return page[start : page.index("</svg>", start) + len("</svg>")]
