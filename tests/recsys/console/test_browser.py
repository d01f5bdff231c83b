"""The curators' console in a real browser (Debian's Chromium) against a real `recsys serve`.

Each flow a curator, the trust team or an admin goes through, from the sign-in form on, with
what the rest of the engine then answers checked through the HTTP API: a block saved in the
console changes the next radio, a review decision leaves the queue, a revert puts the link
back. Screenshots for the README are taken on the way when ``RECSYS_CONSOLE_SCREENSHOTS``
names a folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from recsys.state.schema import open_engine_state
from recsys.state.tokens import add_token
from tests.recsys.api.world import (
    NOW,
    RebuiltWorld,
    bearer,
    copy_state,
    make_tokens,
    running_server,
)
from tests.recsys.console.browser import screenshot, sign_in, system_chromium
from tests.recsys.console.world import MARKUP_ARTIST, MARKUP_NAME

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@dataclass(frozen=True)
class Console:
    base: str
    tokens: dict[str, str]

    def api(self, method: str, path: str, role: str = "admin", **options: Any) -> Any:
        answer = httpx.request(
            method, f"{self.base}{path}", headers=bearer(self.tokens[role]), **options
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def radio_artists(self, artist: str) -> set[str]:
        radio = self.api("GET", f"/v1/radio/artist/{artist}")
        return {a for track in radio["tracks"] for a in track["artist_ids"]}


@pytest.fixture(scope="module")
def console(
    console_world: RebuiltWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console-browser")
    state = copy_state(console_world, root / "state")
    tokens = make_tokens(state)
    conn = open_engine_state(state)
    try:
        tokens["second-curator"] = add_token(
            conn, "test-second-curator", "curator", by="tests", why="fixture", now=NOW
        )
    finally:
        conn.close()
    with running_server(state, root / "server.log") as base:
        yield Console(base, tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with system_chromium() as found:
        yield found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def _radio_neighbour(console: Console, seed: str) -> str:
    """A similar artist of ``seed`` that its radio plays now."""
    playing = console.radio_artists(seed)
    similar = console.api("GET", f"/v1/artists/{seed}/similar?limit=50")["similar"]
    return next(s["artist_id"] for s in similar if s["artist_id"] in playing)


def _seed_artists(console: Console) -> list[str]:
    """Artists with a similar-artist neighbourhood, the best connected first."""
    found = []
    for number in range(1, 61):
        artist = f"ar{number:06d}"
        answer = httpx.get(f"{console.base}/v1/artists/{artist}/similar?limit=50")
        if answer.status_code == 200 and artist != MARKUP_ARTIST:
            found.append((len(answer.json()["similar"]), artist))
    return [artist for _, artist in sorted(found, reverse=True)]


def test_sign_in_search_as_you_type_and_sign_out(console: Console, page: Page) -> None:
    page.goto(f"{console.base}/console/artists")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    screenshot(page, "sign-in")
    page.fill("#token", "rst_not-a-token")
    page.click("#sign-in")
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    page.fill("#token", console.tokens["curator"])
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(r"/console/artists$"))  # back where they were going
    # Results arrive as the curator types, without submitting the form.
    page.fill("#artist-search", "horses")
    result = page.locator("#artist-results a[href='/console/artists/ar000001']")
    expect(result).to_have_text("Horses")
    expect(page).to_have_url(re.compile(r"\?q=horses"))
    screenshot(page, "artists-search")
    result.click()
    expect(page.locator("#artist-name")).to_contain_text("Horses")
    expect(page.locator("#neighbours")).to_be_visible()
    page.click("#sign-out")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    page.goto(f"{console.base}/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_block_with_preview_then_the_next_radio_changes(console: Console, page: Page) -> None:
    seed = _seed_artists(console)[0]
    other = _radio_neighbour(console, seed)
    other_name = console.api("GET", f"/v1/artists/{other}/similar?limit=1")["artist_name"]
    sign_in(page, console.base, console.tokens["curator"], f"/console/artists/{seed}")
    screenshot(page, "artist")
    row = page.locator(f"#neighbours tr[data-artist='{other}']")
    row.locator("input[name=note]").fill("different audiences, confusing on radio")
    row.locator("button[data-kind=block]").click()
    expect(page.locator("h1")).to_contain_text("Preview: block")
    expect(page.locator("#artist-changes")).to_contain_text(other_name)
    expect(page.locator("#reach")).to_contain_text("listeners' stored mixes play both artists")
    screenshot(page, "link-preview")
    assert other in console.radio_artists(seed)  # the preview changed nothing
    page.click("#save")
    expect(page.locator("#saved")).to_be_visible()
    assert other not in console.radio_artists(seed)
    expect(page.locator("#other-links")).to_contain_text("blocked by")
    # And removed again: the preview brings the artist back, and so does the next radio.
    row = page.locator(f"#other-links tr[data-artist='{other}']")
    row.locator("input[name=note]").fill("the audiences overlap after all")
    row.locator("button[data-kind=remove]").click()
    expect(page.locator("h1")).to_contain_text("Preview: remove the link")
    expect(page.locator("#artist-changes")).to_contain_text(other_name)
    page.click("#save")
    expect(page.locator("#saved")).to_be_visible()
    assert other in console.radio_artists(seed)


def test_a_second_curator_is_told_of_the_first_ones_edit(
    console: Console, browser: Browser
) -> None:
    seed = _seed_artists(console)[1]
    other = _radio_neighbour(console, seed)
    pages = []
    for token in (console.tokens["curator"], console.tokens["second-curator"]):
        page = browser.new_context().new_page()
        sign_in(page, console.base, token, f"/console/artists/{seed}")
        page.fill("#link-other", other)
        page.select_option("#link-kind", "similar")
        page.fill("#link-weight", "0.9")
        page.fill("#link-note", "same label family")
        page.click("#link-preview")
        expect(page.locator("#save")).to_be_visible()
        pages.append(page)
    first, second = pages
    first.click("#save")
    expect(first.locator("#saved")).to_be_visible()
    second.click("#save")
    expect(second.locator("#conflict")).to_contain_text("test-curator")
    links = console.api("GET", f"/v1/curation/links?artist_id={seed}", "curator")["links"]
    assert [link["curator"] for link in links if other in (link["artist_a"], link["artist_b"])] == [
        "test-curator"
    ]
    # Told, the second curator saves over it knowingly.
    second.click("#save")
    expect(second.locator("#saved")).to_be_visible()
    for page in pages:
        page.context.close()


def test_a_review_decision_by_keyboard(console: Console, page: Page) -> None:
    queue = console.api("GET", "/v1/review", "curator")["queue"]
    assert queue, "the world's flags leave tracks waiting for review"
    sign_in(page, console.base, console.tokens["curator"], "/console/review")
    first = page.locator("[data-review]").first
    track_id = first.get_attribute("data-review")
    expect(first).to_have_class(re.compile("current"))
    expect(first).to_contain_text("Waits because")
    screenshot(page, "review-queue")
    page.keyboard.press("n")
    page.keyboard.type("clearly generated: same stems as three other uploads")
    page.keyboard.press("Escape")
    page.keyboard.press("x")
    expect(page.locator("#decided")).to_contain_text(f"{track_id}:exclude")
    waiting = {entry["track_id"] for entry in console.api("GET", "/v1/review", "curator")["queue"]}
    assert track_id not in waiting


def test_the_audit_entry_of_an_edit_and_its_revert(console: Console, page: Page) -> None:
    seeds = _seed_artists(console)
    a, b = sorted((seeds[2], seeds[-1]))
    console.api(
        "POST",
        "/v1/curation/links",
        "curator",
        json={"artist_a": a, "artist_b": b, "kind": "similar", "weight": 0.7, "note": "tour mates"},
    )
    sign_in(page, console.base, console.tokens["admin"], "/console/history")
    page.fill("#filter-action", "links.similar")
    page.fill("#filter-subject", f"{a}|{b}")
    page.click("#filter")
    row = page.locator("#history tbody tr").first
    expect(row).to_contain_text("test-curator")
    expect(row).to_contain_text("tour mates")
    screenshot(page, "history")
    # Another curator changes the pair meanwhile: reverting the older edit would undo theirs.
    console.api(
        "POST",
        "/v1/curation/links",
        "second-curator",
        json={"artist_a": a, "artist_b": b, "kind": "similar", "weight": 0.9, "note": "closer"},
    )
    row.locator("input[name=note]").fill("added to the wrong artist")
    row.locator("button", has_text="Revert").click()
    expect(page.locator("p.error")).to_contain_text("changed after entry")
    links = console.api("GET", f"/v1/curation/links?artist_id={a}", "curator")["links"]
    assert [link["note"] for link in links if b in (link["artist_a"], link["artist_b"])] == [
        "closer"
    ]
    # The newest edit, the other curator's, is the one to revert.
    page.goto(f"{console.base}/console/history?action=links.similar&subject={a}%7C{b}")
    row = page.locator("#history tbody tr").first
    expect(row).to_contain_text("test-second-curator")
    row.locator("input[name=note]").fill("added to the wrong artist")
    row.locator("button", has_text="Revert").click()
    expect(page.locator("#done")).to_contain_text("reverted")
    # Put back as that edit found it: the first curator's link.
    links = console.api("GET", f"/v1/curation/links?artist_id={a}", "curator")["links"]
    [restored] = [link for link in links if b in (link["artist_a"], link["artist_b"])]
    assert (restored["kind"], restored["weight"]) == ("similar", 0.7)
    assert restored["note"].startswith("revert of history entry")
    page.fill("#filter-action", "links.similar")
    page.fill("#filter-subject", f"{a}|{b}")
    page.click("#filter")
    expect(page.locator("#history tbody tr").first).to_contain_text("revert of history entry")


def test_a_post_without_the_csrf_token_is_refused(console: Console, page: Page) -> None:
    seed = _seed_artists(console)[3]
    other = _radio_neighbour(console, seed)
    sign_in(page, console.base, console.tokens["curator"], f"/console/artists/{seed}")
    form = {"other": other, "kind": "block", "note": "forged", "action": "save", "base": "none"}
    for sent in (form, form | {"csrf": "0" * 64}):
        answer = page.request.post(f"{console.base}/console/artists/{seed}/links", form=sent)
        assert answer.status == 403
        assert "CSRF" in answer.text()
    assert other in console.radio_artists(seed)
    links = console.api("GET", f"/v1/curation/links?artist_id={seed}", "curator")["links"]
    assert not [link for link in links if link["note"] == "forged"]
    # Each refusal is in the audit trail under the signed-in curator's name, as the API's are.
    refused = [
        entry
        for entry in console.api("GET", "/v1/audit")["entries"]
        if entry["action"] == "console.link_edit" and entry["result"] == "denied"
    ]
    assert [(e["actor"], e["after"]) for e in refused] == [("test-curator", {"status": 403})] * 2


def test_each_role_sees_only_its_pages(console: Console, page: Page) -> None:
    sign_in(page, console.base, console.tokens["trust"], "/console")
    expect(page.locator("#nav-trust")).to_be_visible()
    expect(page.locator("#nav-review")).to_have_count(0)
    expect(page.locator("#nav-history")).to_have_count(0)
    answer = page.goto(f"{console.base}/console/review")
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("Not for your role")
    page.goto(f"{console.base}/console/trust")
    screenshot(page, "trust", full_page=False)
    page.click("#sign-out")
    sign_in(page, console.base, console.tokens["curator"], "/console")
    answer = page.goto(f"{console.base}/console/history")
    assert answer is not None and answer.status == 403
    answer = page.goto(f"{console.base}/console/trust")
    assert answer is not None and answer.status == 403


def test_trust_revocation_from_the_registry_page(console: Console, page: Page) -> None:
    seed = _seed_artists(console)[4]
    assert httpx.get(f"{console.base}/v1/radio/artist/{seed}").status_code == 200
    sign_in(page, console.base, console.tokens["trust"], "/console/trust")
    page.select_option("#trust-kind", "artist")
    page.fill("#trust-subject", "ar999999")
    page.fill("#trust-why", "typo")
    page.click("#trust-revoke")
    expect(page.locator("p.error")).to_contain_text("unknown artist: ar999999")
    # A grant or flag naming what no delivery named is refused as a likely typo, unless
    # the trust team says it comes ahead of its delivery.
    page.goto(f"{console.base}/console/trust")
    page.fill("#trust-subject", "lb9999")
    page.select_option("#trust-kind", "label")
    page.fill("#trust-why", "new label signing")
    page.click("#trust-grant")
    expect(page.locator("p.error")).to_contain_text("unknown label: lb9999")
    page.goto(f"{console.base}/console/trust")
    page.fill("#trust-subject", "lb9999")
    page.select_option("#trust-kind", "label")
    page.fill("#trust-why", "new label signing, contract seen")
    page.check("#trust-ahead")
    page.click("#trust-grant")
    expect(page.locator("#done")).to_contain_text("label lb9999 trusted")
    expect(page.locator("#registry tr[data-subject='lb9999']")).to_contain_text("trusted")
    page.goto(f"{console.base}/console/trust")
    page.fill("#flag-track", "tr9999999")
    page.fill("#flag-why", "detector run on the upcoming delivery")
    page.click("#flag-add")
    expect(page.locator("p.error")).to_contain_text("unknown track: tr9999999")
    page.goto(f"{console.base}/console/trust")
    page.fill("#flag-track", "tr9999999")
    page.fill("#flag-why", "detector run on the upcoming delivery")
    page.check("#flag-ahead")
    page.click("#flag-add")
    expect(page.locator("#done")).to_contain_text("tr9999999 flagged")
    page.goto(f"{console.base}/console/trust")
    page.select_option("#trust-kind", "artist")
    page.fill("#trust-subject", seed)
    page.fill("#trust-why", "impersonation reported by the label")
    page.click("#trust-revoke")
    expect(page.locator("#done")).to_contain_text("revoked")
    expect(page.locator(f"#registry tr[data-subject='{seed}']")).to_contain_text("revoked")
    assert httpx.get(f"{console.base}/v1/radio/artist/{seed}").status_code == 404


def test_an_artist_name_holding_markup_is_shown_as_text(console: Console, page: Page) -> None:
    sign_in(page, console.base, console.tokens["curator"], "/console/artists")
    page.fill("#artist-search", "collective")
    result = page.locator("#artist-results a").first
    expect(result).to_have_text(MARKUP_NAME)
    assert page.locator("#artist-results b").count() == 0
    result.click()
    expect(page.locator("#artist-name")).to_contain_text(MARKUP_NAME)
    assert page.locator("#artist-name b, #artist-name script").count() == 0
    # Had the script run, the title would be "pwned"; it is the name, as text.
    assert page.title() == f"{MARKUP_NAME} · recsys"
