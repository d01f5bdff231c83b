"""Ids in the console's links and redirects are one escaped path segment: an id may hold "?",
"#" or "%" (any printable character), which would otherwise cut the link short."""

from __future__ import annotations

from recsys.console.web import ENVIRONMENT, redirect, segment


def test_an_id_in_a_link_is_one_escaped_segment() -> None:
    html = ENVIRONMENT.get_template("artist_results.html").render(
        results=[("ar?1#x%", '<b>"Odd" Name</b>')], q="odd", staff=None
    )
    assert 'href="/console/artists/ar%3F1%23x%25"' in html
    assert "&lt;b&gt;&#34;Odd&#34; Name&lt;/b&gt;" in html  # the name escaped as text


def test_a_redirect_names_the_id_as_one_segment() -> None:
    answer = redirect(f"/console/artists/{segment('ar?1#x')}")
    assert answer.headers["location"] == "/console/artists/ar%3F1%23x"
