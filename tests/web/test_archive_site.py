"""The archive as a small site: index with preheader, picture and date, pages of ten,
search, Open Graph and Twitter tags with a canonical URL, Atom and RSS feeds with
summaries and content, the signup box on every archive page, and the brand files."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sqlalchemy import update

from pipeline.render.build import build_issue
from pipeline.store.tables import editions
from tests.web.conftest import Server, csrf_from
from tests.web.helpers import sent_edition, solve_altcha

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
SAMPLE = "2026-12-01-microneedling"


def web_version(preheader: str, words: str, image: str = "") -> str:
    meta = f'<meta name="description" content="{preheader}">'
    if image:
        meta += f'<meta property="og:image" content="{image}">'
    return (
        f"<!doctype html><html><head>{meta}<style>.x{{color:red}}</style></head>"
        f'<body><table role="presentation"><tr><td><p>{words}</p></td></tr></table></body></html>'
    )


def test_index_pages_show_preheader_picture_and_date(server: Server) -> None:
    for n in range(1, 13):
        sent_edition(
            server.engine,
            f"2026-11-{n:02d}-issue",
            web_html=web_version(
                f"Preheader {n}", f"Words of issue {n}", f"https://img.example/{n}.png"
            ),
        )
    with server.client() as client:
        first = client.get("/")
        second = client.get("/?page=2")
        beyond = client.get("/?page=3")
        bad = client.get("/?page=zero")
    assert first.status_code == 200
    assert first.text.count('<li class="issue">') == 10
    assert second.text.count('<li class="issue">') == 2
    assert "Preheader 12" in first.text and "Preheader 1<" not in first.text
    assert '<img src="https://img.example/12.png" alt="" loading="lazy">' in first.text
    assert re.search(
        r'<time class="small muted" datetime="[^"]+">\d{1,2} \w+ 20\d\d</time>', first.text
    )
    assert '<a href="/?page=2" rel="next">Older issues</a>' in first.text
    assert '<a href="/?page=1" rel="prev">Newer issues</a>' in second.text
    assert "Page 2 of 2" in second.text
    assert (
        f'<link rel="canonical" href="{server.settings.newsletter.base_url}/?page=2">'
        in second.text
    )
    assert beyond.status_code == 404 and "There are no issues on this page." in beyond.text
    assert bad.status_code == 400


def test_search_finds_words_in_titles_and_text_not_in_markup(server: Server) -> None:
    sent_edition(
        server.engine, "2026-11-01-serums", web_html=web_version("P", "Autumn serums 100% pure")
    )
    sent_edition(server.engine, "2026-11-02-spf", web_html=web_version("P", "Sunscreen daily"))
    with server.client() as client:
        serum = client.get("/", params={"q": "SERUMS autumn"})
        title = client.get("/", params={"q": "2026-11-02-spf"})  # in the subject
        markup = client.get("/", params={"q": "presentation"})  # only in an attribute
        percent = client.get("/", params={"q": "100%"})
        wildcard = client.get("/", params={"q": "_"})
    assert 'href="/issues/2026-11-01-serums"' in serum.text
    assert "2026-11-02-spf" not in serum.text
    assert "1 issue with “SERUMS autumn”" in serum.text
    assert 'value="SERUMS autumn"' in serum.text
    assert 'href="/issues/2026-11-02-spf"' in title.text
    assert "No issue mentions “presentation”" in markup.text
    assert 'href="/issues/2026-11-01-serums"' in percent.text
    assert "2026-11-02-spf" not in percent.text
    assert "No issue mentions “_”" in wildcard.text
    assert '<meta name="robots" content="noindex">' in serum.text


def test_issue_page_has_open_graph_twitter_and_canonical(server: Server) -> None:
    web_html = build_issue(server.settings, SAMPLE).web_html
    sent_edition(server.engine, SAMPLE, web_html=web_html)
    base = server.settings.newsletter.base_url
    with server.client() as client:
        page = client.get(f"/issues/{SAMPLE}")
        index = client.get("/")
    text = page.text
    picture = f"{base}/archive/{SAMPLE}/images/glow.png"
    preheader = "How collagen induction therapy works, who it suits, and how to prepare."
    for tag in (
        f'<link rel="canonical" href="{base}/issues/{SAMPLE}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="Issue {SAMPLE}">',
        f'<meta property="og:description" content="{preheader}">',
        f'<meta property="og:image" content="{picture}">',
        f'<meta property="og:url" content="{base}/issues/{SAMPLE}">',
        '<meta name="twitter:card" content="summary_large_image">',
        f'<meta name="twitter:image" content="{picture}">',
    ):
        assert tag in text, tag
    assert preheader in index.text and f'<img src="{picture}"' in index.text


def test_feeds_carry_summaries_and_content(server: Server) -> None:
    sent_edition(
        server.engine,
        "2026-11-01-serums",
        web_html=web_version("Autumn picks", "Serums &amp; oils"),
    )
    draft = sent_edition(server.engine, "2026-11-05-draft", web_html=web_version("D", "draft"))
    with server.engine.begin() as conn:
        conn.execute(update(editions).where(editions.c.id == draft).values(status="frozen"))
    url = f"{server.settings.newsletter.base_url}/issues/2026-11-01-serums"
    with server.client() as client:
        atom = client.get("/feed.xml")
        rss = client.get("/rss.xml")
    [entry] = ET.fromstring(atom.content).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}summary") == "Autumn picks"
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert "<p>Serums &amp; oils</p>" in (content.text or "")
    assert "<style" not in (content.text or "")
    assert rss.headers["content-type"] == "application/rss+xml; charset=utf-8"
    channel = ET.fromstring(rss.content).find("channel")
    assert channel is not None and channel.findtext("title") == "Glow Notes"
    [item] = channel.findall("item")
    assert (item.findtext("title"), item.findtext("link"), item.findtext("guid")) == (
        "Issue 2026-11-01-serums",
        url,
        url,
    )
    assert item.findtext("description") == "Autumn picks"
    assert "<p>Serums &amp; oils</p>" in (item.findtext(f"{CONTENT}encoded") or "")
    assert re.fullmatch(
        r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}", item.findtext("pubDate") or ""
    )


def test_every_archive_page_has_the_signup_box_that_really_signs_up(server: Server) -> None:
    sent_edition(server.engine, "2026-11-01-serums", web_html=web_version("P", "Serums"))
    with server.client() as client:
        for path in ("/", "/issues/2026-11-01-serums", "/?q=serums"):
            text = client.get(path).text
            assert 'aria-labelledby="signup-box-title"' in text, path
            assert '<form method="post" action="/subscribe" novalidate class="signup-form">' in text
            assert 'id="box-email"' in text and 'name="website"' in text
        index = client.get("/")
        answer = client.post(
            "/subscribe",
            data={
                "csrf_token": csrf_from(index.text),
                "email": "box@example.com",
                "lists": ["beauty-tips", "news"],
                "consent": "yes",
                "website": "",
                "altcha": solve_altcha(client),  # the box is the /subscribe form: same checks
            },
        )
    assert answer.status_code == 200, answer.text
    assert "Check your inbox" in answer.text


def test_brand_files_are_served_and_nothing_else(server: Server) -> None:
    with server.client() as client:
        logo = client.get("/brand/logo.png")
        icon = client.get("/brand/social/instagram.png")
        index = client.get("/")
        for path in (
            "/brand/../newsletter.toml",
            "/brand/%2e%2e/newsletter.toml",
            "/brand/nothing.png",
        ):
            assert client.get(path).status_code == 404, path
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    assert logo.content.startswith(b"\x89PNG")
    assert icon.status_code == 200
    assert '<img src="/brand/logo.png" alt="Glow Notes" width="200">' in index.text
    assert 'alt="Glow Notes on Instagram"' in index.text
