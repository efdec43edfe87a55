"""Every URL attribute is judged by the standard library's parser, and images load only from
Span itself and the configured hosts (anything else becomes a link to the image)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from kb.config import UnsafeConfigError
from kb.rendering import render_markdown, safe_url
from tests.conftest import make_app

# bleach's own URL parser reads "javascript:123" as a host and a port, so its protocol check
# never saw these.
JAVASCRIPT = [
    "javascript:0", "javascript:123", "JaVaScRiPt:123", "&#106;avascript:123",
    "&#x6A;avascript:0", "javascript&#58;0", "javascript&colon;0", "java&#x09;script:0",
    "java&#10;script:0", "jav&Tab;ascript:0", " javascript:0", "java\tscript:0",
    "java\nscript:0", "java script:0", "\u200bjavascript:0", "vbscript:0", "data:text/html,x",
]  # fmt: skip
CONTEXTS = {
    "raw HTML": lambda url: f'<a href="{url}">x</a> <img src="{url}" alt="y">',
    "link target": lambda url: f"[x]({url}) and [y][ref]\n\n[ref]: {url}",
    "image source": lambda url: f"![x]({url})",
    "table cell": lambda url: f'| a | b |\n|---|---|\n| <a href="{url}">x</a> | [y]({url}) |',
}


class _Attributes(HTMLParser):
    """Every attribute as a browser reads it (entities decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found += [(tag, name, value or "") for name, value in attrs]


def _scheme_as_read(value: str) -> str:
    """The scheme a browser would take from the value: tabs and newlines removed anywhere,
    control characters and spaces trimmed at the ends."""
    url = re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("url", JAVASCRIPT)
def test_no_script_url_survives(url, context):
    html = str(render_markdown(CONTEXTS[context](url)))
    for tag, name, value in _Attributes(html).found:
        if name in {"href", "src"}:
            assert _scheme_as_read(value) in {"", "http", "https", "mailto"}, (tag, value, html)
            assert "script" not in re.sub(r"\s", "", value.lower()), (tag, value, html)


def test_the_checker_reads_urls_as_a_browser_does():
    assert _scheme_as_read("java\tscript:1") == "javascript"
    assert _scheme_as_read(" \x01JavaScript:1") == "javascript"


@pytest.mark.parametrize("url", JAVASCRIPT)
def test_safe_url_refuses_script_urls(url):
    assert not safe_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://example.org/a?b=1&amp;c=2", "http://x.example", "mailto:team@example.org",
     "/entries/x", "#section-a", "?q=1", "page.html", "https://example.org/(a)"],
)  # fmt: skip
def test_safe_url_keeps_ordinary_urls(url):
    assert safe_url(url)


def test_ordinary_links_keep_their_targets():
    html = str(render_markdown("[a](https://example.org/x?y=1&z=2) [b](/entries/b) [c](#top)"))
    assert 'href="https://example.org/x?y=1&amp;z=2"' in html
    assert 'href="/entries/b"' in html and 'href="#top"' in html


# --- images ----------------------------------------------------------------------------------


def test_images_from_elsewhere_become_links_and_span_images_stay():
    html = str(
        render_markdown("![A chart](https://tracker.example/p.png)\n\n![Logo](/static/l.png)")
    )
    assert re.findall(r"<img[^>]*>", html) == ['<img alt="Logo" src="/static/l.png">']
    link = '<a href="https://tracker.example/p.png" rel="nofollow noopener">Image: A chart</a>'
    assert link in html


@pytest.mark.parametrize(
    "source",
    ['<img src="https://tracker.example/p.png" alt="p">', "![p](//tracker.example/p.png)",
     "![p](http://tracker.example/p.png)", "| ![p](https://tracker.example/p.png) |\n|---|"],
)  # fmt: skip
def test_no_image_loads_from_another_host_by_default(source):
    assert "<img" not in str(render_markdown(source))


def test_an_image_inside_a_link_becomes_its_description():
    html = str(render_markdown("[![Badge](https://tracker.example/b.png)](https://example.org)"))
    assert html == '<p><a href="https://example.org" rel="nofollow noopener">Image: Badge</a></p>'


@pytest.fixture
def hosts_app(tmp_path):
    app = make_app(tmp_path, tmp_path / "kb.sqlite", IMAGE_HOSTS=["Images.Example.org", " "])
    return app


def test_configured_hosts_serve_images_over_https_only(hosts_app):
    with hosts_app.app_context():
        assert hosts_app.config["IMAGE_HOSTS"] == ("images.example.org",)
        html = str(render_markdown(
            "![a](https://images.example.org/a.png) ![b](https://IMAGES.example.org/b.png) "
            "![c](http://images.example.org/c.png) ![d](https://images.example.org.evil.example/d.png)"
        ))  # fmt: skip
    images = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert images == ["https://images.example.org/a.png", "https://IMAGES.example.org/b.png"]
    assert html.count("<a href=") == 2
    # The same text rendered for a site without the host still makes links (nothing cached
    # across settings).
    assert "<img" not in str(render_markdown("![a](https://images.example.org/a.png)"))


def test_content_security_policy_allows_exactly_those_image_hosts(hosts_app, client):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self';" in policy
    policy = hosts_app.test_client().get("/about").headers["Content-Security-Policy"]
    assert "img-src 'self' https://images.example.org;" in policy


def test_image_hosts_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_IMAGE_HOSTS", "a.example.org, b.example.org")
    app = make_app(tmp_path, tmp_path / "kb.sqlite")
    assert app.config["IMAGE_HOSTS"] == ("a.example.org", "b.example.org")


@pytest.mark.parametrize(
    "bad", ["https://a.example.org", "a.example.org; script-src *", "a b", "*"]
)
def test_a_bad_image_host_refuses_to_start(tmp_path, bad):
    with pytest.raises(UnsafeConfigError, match="IMAGE_HOSTS"):
        make_app(tmp_path, tmp_path / "kb.sqlite", IMAGE_HOSTS=[bad])
