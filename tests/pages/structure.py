"""A small reader for rendered pages, so tests can ask about structure instead of grepping markup."""
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Document:
    root_attrs: dict[str, str] = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)

    def find_all(self, tag: str, **attrs: str) -> list[Element]:
        """Elements with this tag whose attributes include the given ones (class_ means class)."""
        wanted = {name.rstrip("_"): value for name, value in attrs.items()}
        return [
            e for e in self.elements
            if e.tag == tag and all(_matches(e.attrs.get(k), v, k) for k, v in wanted.items())
        ]

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)

    def ids(self) -> list[str]:
        return [e.attrs["id"] for e in self.elements if "id" in e.attrs]


def _matches(actual: str | None, wanted: str, name: str) -> bool:
    if actual is None:
        return False
    if name == "class":
        return wanted in actual.split()
    return actual == wanted


class _Reader(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.document = Document()
        self.open: list[Element] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        if tag == "html":
            self.document.root_attrs = element.attrs
        self.document.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                break

    def handle_data(self, data):
        for element in self.open:
            element.text += data


def parse(html: str) -> Document:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.document


def squash(text: str) -> str:
    """Collapse runs of whitespace, the way a browser shows text."""
    return " ".join(text.split())
