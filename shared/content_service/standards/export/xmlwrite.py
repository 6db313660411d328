"""A tiny, deterministic XML writer: the exporters control every prefix, order and byte."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr


@dataclass
class Node:
    """An element: a qualified tag as written (``adlcp:masteryscore``), attributes in order."""

    tag: str
    attributes: dict[str, str | None] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str | None = None

    def add(self, child: Node) -> Node:
        self.children.append(child)
        return child


def element(tag: str, text: str | None = None, /, **attributes: str | None) -> Node:
    """An element; attribute names use ``__`` for ``:`` (``xml__lang`` is ``xml:lang``)."""
    return Node(tag, {name.replace("__", ":"): value for name, value in attributes.items()}, [], text)


def raw(fragment: str) -> Node:
    """A well-formed XML fragment written as it is (sequencing an import kept verbatim)."""
    return Node(RAW, {}, [], fragment)


RAW = "#raw"


def render(root: Node) -> bytes:
    """The document as UTF-8 bytes with an XML declaration, indented by two spaces."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    _render(root, 0, lines)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _render(node: Node, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    if node.tag == RAW:
        lines.append(pad + (node.text or ""))
        return
    attrs = "".join(
        f" {name}={quoteattr(value)}" for name, value in node.attributes.items() if value is not None
    )
    if node.children:
        lines.append(f"{pad}<{node.tag}{attrs}>")
        for child in node.children:
            _render(child, depth + 1, lines)
        lines.append(f"{pad}</{node.tag}>")
    elif node.text is not None:
        lines.append(f"{pad}<{node.tag}{attrs}>{escape(node.text)}</{node.tag}>")
    else:
        lines.append(f"{pad}<{node.tag}{attrs}/>")
