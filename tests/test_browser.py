"""The search page in a real browser: Debian's Chromium driven by Playwright, over the app served
by uvicorn on loopback with the sample corpus (indexed with the fake encoder)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from typer.testing import CliRunner

from ingest.pipeline import ingest
from retriever.store.index_store import IndexStore
from service import cli
from service.app import create_app
from service.auth import add_key
from service.settings import Settings
from tests.browser_setup import LAUNCH_ARGS, ensure_chromium, ensure_cjk_font
from tests.conftest import REPO
from tests.fakes import FakeEncoder
from tests.serving import served

try:
    from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extras install it
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
FLASH = "毛邊 二段射出壓力"
FORKLIFT = "堆高機翻車時該怎麼做？"
BOILER = "boiler cold start burner purge"
WELDING = "焊鍍鋅管 沒戴口罩 發燒"


@dataclass(frozen=True)
class Site:
    url: str
    home: Path
    reader: str
    admin: str


@dataclass(frozen=True)
class Fetched:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# ---- the server and the browser ----------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser")
    home = root / "home"
    corpus = shutil.copytree(REPO / "corpus", root / "corpus")
    encoder = FakeEncoder()
    ingest([corpus], IndexStore(home), encoder)
    keys = home / "keys.yaml"
    reader, admin = add_key(keys, "reader", "reader", []), add_key(keys, "admin", "admin", [])
    app = create_app(Settings(home=home), encoder_factory=lambda _: encoder)
    with served(app) as base:
        yield Site(base, home, reader, admin)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = ensure_chromium()
    ensure_cjk_font()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh browser context (empty session and local storage) per test."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


# ---- helpers -----------------------------------------------------------------------------


def fetch(url: str, key: str | None = None, body: dict[str, Any] | None = None) -> Fetched:
    """An HTTP call outside the browser (no cookies, no key unless given)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Fetched(response.status, response.headers["content-type"], response.read())
    except urllib.error.HTTPError as exc:
        return Fetched(exc.code, exc.headers["content-type"], exc.read())


def sign_in(page: Page, key: str) -> None:
    page.goto("/")
    page.fill("#apikey", key)
    page.press("#apikey", "Enter")


def ask(page: Page, question: str, doc_type: str = "") -> None:
    """Type a question, press Enter, and wait until the page shows the outcome."""
    if doc_type:
        page.select_option("#f-doc_type", doc_type)
    page.fill("#question", question)
    with page.expect_response("**/v1/query"):
        page.press("#question", "Enter")
    page.wait_for_function("document.getElementById('status').dataset.state !== 'loading'")


def ask_ok(page: Page, question: str, doc_type: str = "") -> None:
    """Ask, and fail with what the page says unless it shows passages."""
    ask(page, question, doc_type)
    status = page.locator("#status")
    assert status.get_attribute("data-state") == "done", status.inner_text()


def api_passages(site: Site, question: str, k: int = 10) -> list[dict[str, Any]]:
    body = {"question": question, "k": k, "mode": "hybrid"}
    response = fetch(f"{site.url}/v1/query", site.reader, body)
    passages: list[dict[str, Any]] = response.json()["passages"]
    return passages


def fulfil(route: Route, passages: list[dict[str, Any]]) -> None:
    body = {"question": "q", "mode": "hybrid", "stages": ["dense"], "passages": passages}
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body))


# ---- tests -------------------------------------------------------------------------------


def test_a_zh_question_shows_step_citations_side_by_side(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    ask_ok(page, FLASH)
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    official, expert = page.locator("#list-official .card"), page.locator("#list-expert .card")
    expect(official.first).to_be_visible()
    expect(expert.first).to_be_visible()
    labels = official.locator("h4.label").all_inner_texts()
    assert any("SOP-IM-012" in label and "step" in label for label in labels), labels
    assert any("王師傅" in label for label in expert.locator("h4.label").all_inner_texts())
    expect(official.first.locator(".badge.official")).to_have_text("官方SOP")
    expect(expert.first.locator(".badge.expert")).to_have_text("師傅經驗")
    first = api_passages(site, FLASH)[0]  # the page marks the sentence the API names
    highlight = first["highlight"]
    card = page.locator(f".card[data-chunk-id='{first['chunk_id']}']")
    expect(card.locator("mark")).to_have_text(first["text"][highlight["start"] : highlight["end"]])


def test_a_filter_narrows_to_expert_tips(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    expect(page.locator("#f-doc_type option[value=interview]")).to_have_count(1)  # from facets
    with page.expect_request("**/v1/query") as sent:
        ask_ok(page, FLASH, doc_type="interview")
    assert (sent.value.post_data_json or {})["filters"] == {"doc_type": "interview"}
    cards = page.locator(".card")
    expect(cards.first).to_be_visible()
    assert set(cards.evaluate_all("cs => cs.map(c => c.dataset.authority)")) == {"expert"}
    expect(page.locator("#list-official .card")).to_have_count(0)
    expect(page.locator("#none-official")).to_be_visible()


def test_the_citation_link_opens_the_pdf_at_its_page(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    ask_ok(page, BOILER)
    card = page.locator(".card[data-doc-id='SOP-BL-002'][data-page]").first
    number = card.get_attribute("data-page")
    with page.expect_popup() as popup:
        card.locator("button.open").click()
    url = card.locator("button.open").get_attribute("data-url") or ""
    assert "/files/" in url and url.endswith(f"#page={number}"), url
    expect(popup.value).to_have_url(url)  # Chromium's PDF viewer, at the page
    opened = fetch(url.split("#")[0])  # no key: the link itself grants the file
    assert opened.status == 200 and opened.content_type == "application/pdf"
    assert opened.body.startswith(b"%PDF")


def test_a_transcript_link_opens_at_the_turn(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    ask_ok(page, WELDING)
    card = page.locator(".card[data-doc-id='INT-CHEN-2024-06-20']").first  # a WebVTT file
    with page.expect_popup() as popup:
        card.locator("button.open").click()
    url = card.locator("button.open").get_attribute("data-url") or ""
    assert "#:~:text=" in url, url
    # the turn is near the end of a long transcript: Chromium found the text and scrolled to it
    popup.value.wait_for_function("window.scrollY > 0")
    assert popup.value.url.startswith(url.split("#")[0])
    quote = unquote(url.split("#:~:text=")[1])
    assert quote in card.locator("mark").inner_text()  # the passage's best sentence
    served = fetch(url.split("#")[0])
    assert served.status == 200 and served.content_type.startswith("text/plain")
    assert quote in served.body.decode("utf-8"), quote


def test_the_language_toggle_switches_labels_and_is_remembered(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    ask_ok(page, FLASH)
    zh = ["搜尋", "檢索方式", "文件類型", "官方 SOP", "師傅經驗", "有幫助", "沒幫助", "開啟原文"]
    en = ["Search", "Retrieval mode", "Document type", "Official SOP", "Expert tips", "Helped",
          "Did not help", "Open original"]  # fmt: skip
    assert_labels(page, "zh-TW", zh)
    page.click("button[data-lang=en]")
    assert_labels(page, "en", en)
    expect(page.locator("label[for=superseded]")).to_have_text("Include superseded revisions")
    page.reload()
    assert_labels(page, "en", en[:3])
    expect(page.locator("#key-set")).to_be_visible()  # the key survives a reload (session)
    assert page.evaluate("Object.keys(localStorage)") == ["shifu-lang"]
    assert page.evaluate("sessionStorage.getItem('shifu-key')") == site.reader
    page.click("button[data-lang='zh-TW']")
    assert_labels(page, "zh-TW", zh[:3])


def assert_labels(page: Page, lang: str, labels: list[str]) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    shown = page.locator("body").inner_text()
    missing = [label for label in labels if label not in shown]
    assert not missing, f"not shown in {lang}: {missing}"


def test_a_bad_key_shows_the_error_state(page: Page, site: Site) -> None:
    sign_in(page, "shifu_not-a-key")
    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("金鑰無效")
    expect(status).to_contain_text("unknown API key")  # the server's detail
    expect(page.locator("#apikey")).to_be_visible()  # asked again
    assert page.evaluate("sessionStorage.getItem('shifu-key')") is None
    page.click("button[data-lang=en]")
    expect(status).to_contain_text("API key rejected")
    ask(page, FLASH)  # without a key now
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("API key required")


def test_a_rate_limited_search_says_when_to_retry(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    detail = {"detail": "rate limit for query requests reached; retry in 7 s"}
    page.route("**/v1/query", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "7"}, content_type="application/json",
        body=json.dumps(detail)))  # fmt: skip
    ask(page, FLASH)
    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("請求太頻繁，請於 7 秒後再試")
    page.click("button[data-lang=en]")
    expect(status).to_contain_text("Too many requests: try again in 7 s")


def test_feedback_lands_in_the_api_and_the_export(page: Page, site: Site, tmp_path: Path) -> None:
    sign_in(page, site.reader)
    ask_ok(page, FLASH)
    card = page.locator(".card").first
    chunk_id = int(card.get_attribute("data-chunk-id") or 0)
    card.locator("button.fb.helped").focus()
    page.keyboard.press("Enter")  # keyboard, as an operator with a scanner gun might
    expect(card.locator(".fb-note")).to_contain_text("已記錄")
    expect(card.locator("button.fb")).to_have_count(2)
    for button in card.locator("button.fb").all():
        expect(button).to_be_disabled()
    expect(card.locator("button.fb.helped")).to_have_attribute("aria-pressed", "true")
    listed = fetch(f"{site.url}/v1/feedback", site.admin).json()["feedback"]
    mine = [f for f in listed if f["chunk_id"] == chunk_id and f["question"] == FLASH]
    assert [(f["verdict"], f["key_id"]) for f in mine] == [("helped", "reader")]
    passage = exported_passage(site, tmp_path / "fb", FLASH, chunk_id)
    assert passage == api_passages(site, FLASH)[0]["text"]


def exported_passage(site: Site, folder: Path, question: str, chunk_id: int) -> str:
    """Run `shifu feedback export` in-process; return the judged passage's exported text."""
    result = CliRunner().invoke(
        cli.app, ["feedback", "export", str(folder), "--home", str(site.home)]
    )
    assert result.exit_code == 0, result.output
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    query_id = next(q["_id"] for q in queries if q["text"] == question)
    qrels = [row.split("\t") for row in (folder / "qrels/test.tsv").read_text().splitlines()[1:]]
    assert [query_id, str(chunk_id), "1"] in qrels
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
    text: str = next(entry["text"] for entry in corpus if entry["_id"] == str(chunk_id))
    return text


def test_loading_then_empty_state(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    held: list[Route] = []
    page.route("**/v1/query", lambda route: held.append(route))
    page.fill("#question", "沒有這種東西")
    page.press("#question", "Enter")
    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "loading")
    expect(status.locator(".spinner")).to_be_visible()
    expect(page.locator("#search-button")).to_be_disabled()
    while not held:  # Playwright hands over the request while the test waits on the page
        page.wait_for_timeout(20)
    fulfil(held[0], [])
    expect(status).to_have_attribute("data-state", "empty")
    expect(status).to_contain_text("查無相關段落")
    expect(page.locator("#results")).to_be_hidden()


def test_a_server_without_keys_asks_for_none(page: Page) -> None:
    page.route("**/v1/facets", lambda route: route.fulfill(json={"doc_type": ["sop"]}))
    page.goto("/")
    expect(page.locator("#key-panel")).to_be_hidden()  # `shifu serve --no-auth`
    expect(page.locator("#f-doc_type option[value=sop]")).to_have_text("SOP 作業標準")


def test_highlight_offsets_count_code_points(page: Page, site: Site) -> None:
    """Python counts code points; an astral character is two UTF-16 units in JavaScript."""
    text = "𠮷𠮷𠮷 前言。毛邊要先看保壓。後記"
    start = text.index("毛邊")
    empty = ("page", "section", "doc_type", "authority", "effective_date", "step", "speaker",
             "start", "end", "date")  # fmt: skip
    citation = {**dict.fromkeys(empty), "doc_id": "X", "title": "t", "source": "x.md",
                "char_start": 0, "char_end": len(text), "label": "X rev A", "revision": "A",
                "superseded": True}  # fmt: skip
    passage = {"chunk_id": 1, "text": text, "score": 1.0, "citation": citation,
               "highlight": {"start": start, "end": start + len("毛邊要先看保壓。")}}  # fmt: skip
    sign_in(page, site.reader)
    page.route("**/v1/query", lambda route: fulfil(route, [passage]))
    ask(page, "毛邊")
    card = page.locator("#list-other .card")  # neither official nor expert: its own list
    expect(card.locator("mark")).to_have_text("毛邊要先看保壓。")
    expect(card.locator(".badge.superseded")).to_have_text("已廢止")


def test_every_control_is_labelled_and_reachable_by_keyboard(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter(e => e.offsetParent !== null)
            .filter(e => e.tagName === 'BUTTON' ? !e.textContent.trim() : !e.labels.length)
            .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    expect(page.locator("#question")).to_be_focused()  # focused once the key is set
    page.keyboard.press("Tab")
    expect(page.locator("#search-button")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#mode")).to_be_focused()


def test_screenshots_wide_and_tablet(page: Page, site: Site) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    sign_in(page, site.reader)
    ask_ok(page, FLASH)
    official, expert = page.locator(".column.official"), page.locator(".column.expert")
    left, right = official.bounding_box(), expert.bounding_box()
    assert left and right and right["x"] >= left["x"] + left["width"]  # side by side
    assert abs(right["y"] - left["y"]) < 1
    page.screenshot(path=str(ARTIFACTS / "results-1280x900.png"))
    page.set_viewport_size({"width": 768, "height": 1024})
    top, below = official.bounding_box(), expert.bounding_box()
    assert top and below and below["y"] >= top["y"] + top["height"]  # stacked
    assert page.evaluate("document.documentElement.scrollWidth") <= 768  # no sideways scroll
    page.screenshot(path=str(ARTIFACTS / "results-768.png"), full_page=True)


def test_the_words_searched_in_the_other_language_are_shown(page: Page, site: Site) -> None:
    sign_in(page, site.reader)
    ask_ok(page, FORKLIFT)
    expansions = page.locator("#expansions")
    expect(expansions).to_be_visible()
    first = page.locator("#expansions .expansion").first
    expect(first).to_have_attribute("data-source", "glossary")
    expect(first).to_contain_text("堆高機 → forklift")
    expect(first).to_contain_text("術語表")  # the source, in the page's language
    ask_ok(page, "SOP-IM-012")  # nothing translated: the line is gone
    expect(expansions).to_be_hidden()
