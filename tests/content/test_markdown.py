"""Markdown to HTML and text, and the facts the checks read from it."""

from __future__ import annotations

from pipeline.content import markdown

MD = """\
# A heading

A paragraph with [a link](https://example.com/a) and
a second line with ![a bottle](images/bottle.png).

- one
- two, long enough to wrap: lorem ipsum dolor sit amet consectetur adipiscing elit sed

1. first
2. second

It can address concerns, including:

## Next
"""


def test_to_text_wraps_and_keeps_lists_and_links() -> None:
    assert markdown.to_text(MD) == (
        "A HEADING\n"
        "\n"
        "A paragraph with a link (https://example.com/a) and a second line with\n"
        "[a bottle].\n"
        "\n"
        "- one\n"
        "- two, long enough to wrap: lorem ipsum dolor sit amet consectetur\n"
        "  adipiscing elit sed\n"
        "\n"
        "1. first\n"
        "2. second\n"
        "\n"
        "It can address concerns, including:\n"
        "\n"
        "NEXT"
    )


def test_links_and_images_keep_their_lines() -> None:
    assert markdown.links(MD) == [markdown.Link("https://example.com/a", 3)]
    assert markdown.images(MD) == [markdown.Image("images/bottle.png", "a bottle", 4)]


def test_a_paragraph_that_introduces_a_missing_list_is_found() -> None:
    found = markdown.dangling_list_intros(MD)
    assert [(b.text, b.line) for b in found] == [("It can address concerns, including:", 12)]
    assert markdown.dangling_list_intros("Three things:\n\n- a\n- b\n") == []


def test_raw_html_is_not_passed_through() -> None:
    assert "<script>" not in markdown.to_html("<script>alert(1)</script>")


def test_images_are_resolved_by_the_callback() -> None:
    html = markdown.to_html("![x](a.png)", lambda src: "https://cdn.example/" + src)
    assert 'src="https://cdn.example/a.png"' in html
