"""The capture's HTML tokenizer, directly: what it yields, what it skips, and that it stays linear."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from himaya.online.html_tags import Tag, tags


def test_start_and_end_tags_with_decoded_attributes() -> None:
    found = list(tags("<IMG SRC=\"a.jpg?x=1&amp;y=2\" alt='b' data-src=c.png><br/></p>"))
    assert found == [
        Tag("img", {"src": "a.jpg?x=1&y=2", "alt": "b", "data-src": "c.png"}),
        Tag("br", {}),
        Tag("p", {}, end=True),
    ]


def test_the_first_of_repeated_attributes_wins_as_in_a_browser() -> None:
    assert list(tags('<img src="first.jpg" src="second.jpg">')) == [Tag("img", {"src": "first.jpg"})]


def test_comments_declarations_and_raw_text_hide_their_markup() -> None:
    page = (
        '<!DOCTYPE html><!-- <img src="in-comment.jpg"> --><script>var s = "<img src=\'in-script.jpg\'>";'
        '</script><title><img src="in-title.jpg"></title><img src="real.jpg">'
    )
    names = [(t.name, t.attributes.get("src"), t.end) for t in tags(page)]
    assert ("img", "real.jpg", False) in names
    assert all(src not in ("in-comment.jpg", "in-script.jpg", "in-title.jpg") for _, src, _ in names)


def test_a_tag_left_open_swallows_the_rest_and_nothing_raises() -> None:
    assert list(tags('<img src="a.jpg"><a href="x')) == [Tag("img", {"src": "a.jpg"})]


def test_hostile_unclosed_constructs_stay_linear() -> None:
    for piece in ("<a b='", "<!--", "<script>", "<a "):
        started = time.monotonic()
        list(tags(piece * 50_000))
        assert time.monotonic() - started < 2.0, piece


@given(st.text(alphabet=st.sampled_from(list("<>/='\"! -abcimgsrc&;#x\n")), max_size=400))
def test_any_text_gives_tags_with_lower_case_names(text: str) -> None:
    for tag in tags(text):
        assert tag.name == tag.name.lower()
        assert all(name == name.lower() for name in tag.attributes)
