"""Link indexing at freeze: tracked links, the honeypot, the pixel, UTM tags, and how a
tracked and an untracked recipient's messages differ."""

from __future__ import annotations

import email
import email.policy
import re

from pipeline.config import ListSection, Settings
from pipeline.render.personalise import CompiledEdition, compile_edition, placeholder
from pipeline.sending.mime import MessageSkeleton
from pipeline.tracking.links import TrackingPlan, add_utm, link_text, track_edition
from pipeline.tracking.plan import edition_plan, tracking_values

BASE = "https://news.example.com"
HTML = (
    '<html><body style="margin:0"><p>Hi ' + placeholder("first_name", "there") + "</p>"
    '<a href="https://shop.example.com/serum?a=1&amp;b=2">Shop the <b>serum</b></a>'
    '<a class="btn" href="https://shop.example.com/cream">Shop</a>'
    '<a href="mailto:editors@example.com">Write to us</a>'
    '<a href="#top">Top</a>'
    '<a href="' + placeholder("unsubscribe_url") + '">Unsubscribe</a>'
    f'<a href="{BASE}/preferences/X">Preferences</a>'
    "</body></html>"
)
TEXT = "Shop: https://shop.example.com/serum\nUnsubscribe: " + placeholder("unsubscribe_url")

PID = "5f0c2d9b7e4a4c1f8a3b6d2e9f1a7c30"  # a subscriber's public id (32 hex)


def compiled() -> CompiledEdition:
    return compile_edition("Subject", HTML, TEXT)


def values(settings: Settings, tracked: bool) -> dict[str, str]:
    out = {"first_name": "Ann", "unsubscribe_url": f"{BASE}/unsubscribe/T"}
    if tracked:
        out.update(tracking_values(settings, PID, 3))
    return out


def _subject(url: str) -> list[str]:
    """What a tracking token says before its signing time: the person and the edition."""
    return url.rsplit("/", 1)[-1].split(".")[:2]


def test_links_are_indexed_with_a_honeypot_and_a_pixel(file_settings: Settings) -> None:
    tracked, links = track_edition(compiled(), TrackingPlan(base_url=BASE))
    assert [(k.index, k.url, k.text, k.kind) for k in links] == [
        (0, f"{BASE}/", "", "honeypot"),
        (1, "https://shop.example.com/serum?a=1&b=2", "Shop the serum", "link"),
        (2, "https://shop.example.com/cream", "Shop", "link"),
    ]
    html = tracked.personalise(values(file_settings, tracked=True)).html
    # a token holds its signing time: take the one this message carries, and check its form
    # (subscriber PID, edition 3) and that all three links share it
    expected = tracking_values(file_settings, PID, 3)["click_base"]
    hrefs = re.findall(r'href="([^"]*)"', html)
    token = hrefs[0].rsplit("/", 1)[0]
    assert token.removesuffix(token.rsplit("/", 1)[-1]) == expected.removesuffix(
        expected.rsplit("/", 1)[-1]
    )  # the same base URL and /l/
    assert _subject(token) == _subject(expected)
    assert hrefs == [
        f"{token}/0",
        f"{token}/1",
        f"{token}/2",
        "mailto:editors@example.com",
        "#top",
        f"{BASE}/unsubscribe/T",
        f"{BASE}/preferences/X",
    ]
    assert 'aria-hidden="true" tabindex="-1"></a>' in html  # the honeypot is hidden
    pixel = tracking_values(file_settings, PID, 3)["open_url"]
    ending = re.search(
        r'<img src="([^"]*)" width="1" height="1" alt="" '
        r'style="display:block;width:1px;height:1px;border:0;opacity:0" />'
        r"</body></html>$",
        html,
    )
    assert ending is not None
    assert ending.group(1).removesuffix(ending.group(1).rsplit("/", 1)[-1]) == (
        pixel.removesuffix(pixel.rsplit("/", 1)[-1])
    )
    assert _subject(ending.group(1)) == _subject(pixel)
    assert tracked.personalise(values(file_settings, tracked=True)).text == TEXT.replace(
        placeholder("unsubscribe_url"), f"{BASE}/unsubscribe/T"
    )  # the text part is not tracked by default


def test_an_untracked_recipient_gets_direct_links_and_no_pixel(file_settings: Settings) -> None:
    tracked, _ = track_edition(compiled(), TrackingPlan(base_url=BASE))
    html = tracked.personalise(values(file_settings, tracked=False)).html
    assert html == compiled().personalise(values(file_settings, tracked=False)).html
    assert "/l/" not in html and "/o/" not in html and "<img" not in html


def test_mime_messages_match_the_filled_parts(file_settings: Settings) -> None:
    tracked, _ = track_edition(compiled(), TrackingPlan(base_url=BASE, text_clicks=True))
    skeleton = MessageSkeleton(file_settings, tracked, slug="s")
    assert skeleton.tracked
    for is_tracked in (True, False):
        vals = values(file_settings, is_tracked)
        raw = skeleton.build("ann@example.org", "Ann", vals)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        parts = tracked.personalise(vals)
        assert html.replace("\r\n", "\n") == parts.html
        assert text.replace("\r\n", "\n") == parts.text
        assert ("/l/" in text) is is_tracked  # text_clicks: the text URL is tracked too


def test_the_compiled_edition_keeps_its_link_slots_when_stored() -> None:
    tracked, _ = track_edition(compiled(), TrackingPlan(base_url=BASE))
    again = CompiledEdition.from_bytes(tracked.to_bytes())
    assert again == tracked


def test_utm_tags_are_added_but_never_replace_existing_ones() -> None:
    tags = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "issue-1"}
    assert add_utm("https://a.example/p?x=1&utm_source=partner#frag", tags) == (
        "https://a.example/p?x=1&utm_source=partner&utm_medium=email&utm_campaign=issue-1#frag"
    )
    assert add_utm("mailto:a@example.com", tags) == "mailto:a@example.com"
    assert add_utm("https://a.example/", None) == "https://a.example/"


def test_the_plan_follows_settings_lists_and_issue(make_settings: object) -> None:
    settings = make_settings(**{"tracking.utm": True})  # type: ignore[operator]
    plan = edition_plan(settings, "2026-12-01-x", ["beauty-tips"], {"utm_campaign": "winter"})
    assert (plan.opens, plan.clicks) == (True, True)
    assert plan.utm == {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "winter"}
    quiet = make_settings(**{"tracking.opens": False}).model_copy(  # type: ignore[operator]
        update={
            "lists": [
                ListSection(slug="beauty-tips", name="Tips", track_clicks=False),
                ListSection(slug="news", name="News"),
            ]
        }
    )
    plan = edition_plan(quiet, "s", ["beauty-tips", "news"])
    assert (plan.opens, plan.clicks, plan.utm) == (False, False, None)
    assert edition_plan(quiet, "s", ["news"]).clicks is True


def test_link_text_reads_the_visible_text_or_the_image_alt() -> None:
    assert link_text("Shop the <b>serum</b> &amp; more</a> rest") == "Shop the serum & more"
    assert link_text('<img src="x.png" alt="Serum bottle"></a>') == "Serum bottle"
