"""Feed HTML is untrusted: sanitise it once (nh3), and derive plain text from it."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

# Show notes need text formatting and links, nothing that runs, loads or restyles the page:
# no script/style/iframe/form, no img (third-party pixels track listeners), no style/class/id.
SAFE_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "q", "s",
        "small", "strong", "sub", "sup", "u", "ul",
    }
)  # fmt: skip
SAFE_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "q": {"cite"}}
SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# rel on every link: feed authors' links earn no ranking (nofollow) and get no handle on our
# window or our URL (noopener, noreferrer).
LINK_REL = "nofollow noopener noreferrer"
# Elements whose content is dropped with the element, not kept as text.
DROP_CONTENT_TAGS = frozenset({"script", "style", "template", "iframe", "object", "noscript"})

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
        "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def sanitize_html(markup: str | None) -> str:
    """Safe tags and attributes only; links get rel=nofollow, hrefs only http(s)/mailto."""
    if not markup:
        return ""
    return nh3.clean(
        markup,
        tags=set(SAFE_TAGS),
        clean_content_tags=set(DROP_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in SAFE_ATTRIBUTES.items()},
        url_schemes=set(SAFE_URL_SCHEMES),
        url_relative="deny",  # a relative link in a feed has no base we can trust
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in DROP_CONTENT_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in DROP_CONTENT_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data.replace("\n", " "))


def html_to_text(markup: str | None) -> str:
    """Readable plain text: block elements become line breaks, whitespace collapses."""
    if not markup:
        return ""
    if "<" not in markup:
        return _tidy(html.unescape(markup))
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str | None) -> str:
    """Plain text as escaped HTML: blank lines separate paragraphs, single newlines are <br>."""
    if not text or not text.strip():
        return ""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "".join(
        "<p>" + "<br>".join(html.escape(line.strip()) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )
