"""The article fragment's text and sanitised HTML, as BeautifulSoup made them before lxml did
(#23.5): the stored bodies of existing archives must not change."""

from __future__ import annotations

import pytest

from pages.fragment import render_blocks

PAGE = "https://www.aalto.fi/en/news/x"


@pytest.mark.parametrize(
    ("block", "text", "html"),
    [
        # The text after a dropped script or comment stays; <br> makes lines, runs of them one.
        (
            "<p>a<!-- c -->b<script>x</script>c<br>d<br><br>e</p>",
            "abc\nd\ne",
            "<p>abc<br>d<br><br>e</p>",
        ),
        # Attributes in name order; `headers` tokens joined by one space.
        (
            '<table><tr><td headers=" a  b " align="left">x</td></tr></table>',
            "x",
            '<table><tbody><tr><td align="left" headers="a b">x</td></tr></tbody></table>',
        ),
        # Captions dropped, image URLs public and without their cache-buster query.
        (
            '<p>x<img src="/a.png?itok=1" alt="A"><figcaption>cap</figcaption>tail</p>',
            "xtail",
            '<p>x<img alt="A" src="https://www.aalto.fi/a.png">tail</p>',
        ),
    ],
)
def test_fragment_output_is_what_beautifulsoup_made(block: str, text: str, html: str) -> None:
    assert render_blocks([block], PAGE, None) == (text, html)
