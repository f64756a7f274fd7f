"""The MCP server, with the SDK's own client: over real HTTP against a served app (/mcp) and over
stdio against `shifu mcp` in a subprocess. Same keys, groups and limits as the REST API."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from ingest.pipeline import ingest
from retriever.models.encoder import DEFAULT_MODEL
from retriever.store.index_store import IndexStore
from service.app import create_app
from service.auth import add_key
from service.settings import Settings
from tests.conftest import REPO, bearer
from tests.fakes import FakeEncoder
from tests.serving import served

TOOLS = {"search", "get_document", "list_facets", "glossary_lookup"}
RESTRICTED = ("---\ndoc_id: SOP-SEC-001\ndoc_type: sop\naccess: [molding]\n---\n"
              "1. 配方參數 secret-recipe 只給成型課。\n")
SECRET = {"question": "secret-recipe 配方參數", "k": 20, "mode": "bm25"}


class DefaultNamed(FakeEncoder):
    """An index under the default model's name, so `shifu mcp` (the real settings) opens it;
    BM25 questions then need no model at all."""

    name = DEFAULT_MODEL


@dataclass(frozen=True)
class Site:
    url: str
    home: Path
    keys: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("mcp")
    corpus = shutil.copytree(REPO / "corpus", root / "corpus")
    (corpus / "sec.md").write_text(RESTRICTED, encoding="utf-8")
    home, encoder = root / "home", DefaultNamed()
    ingest([corpus], IndexStore(home), encoder)
    path = home / "keys.yaml"
    keys = {who: add_key(path, who, "reader", groups)
            for who, groups in (("reader", []), ("molding", ["molding"]))}  # fmt: skip
    keys["admin"] = add_key(path, "admin", "admin", [])
    app = create_app(Settings(home=home), encoder_factory=lambda _: encoder)
    with served(app) as url:
        yield Site(url, home, keys)


def over_http(site: Site, key: str, work: Callable[[Client], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        import httpx2  # the SDK's HTTP client

        async with httpx2.AsyncClient(headers=bearer(key)) as http:
            transport = streamable_http_client(f"{site.url}/mcp", http_client=http)
            async with Client(transport) as client:
                return await work(client)

    return anyio.run(run)


def call(site: Site, key: str, tool: str, arguments: dict[str, Any]) -> Any:
    async def work(client: Client) -> Any:
        return await client.call_tool(tool, arguments)

    return over_http(site, key, work)


def doc_ids(result: Any) -> set[str]:
    assert not result.is_error, result.content
    return {p["doc_id"] for p in result.structured_content["passages"]}


def test_the_tools_are_listed_with_descriptions_and_schemas(site: Site) -> None:
    async def work(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in over_http(site, site.keys["reader"], work)}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description or "") > 40, tool.name
        assert tool.input_schema["type"] == "object" and tool.output_schema, tool.name
    search = tools["search"].input_schema
    assert search["required"] == ["question"]
    assert search["properties"]["k"]["maximum"] == 50  # the REST API's limit, not a copy


def test_search_cites_by_label_honours_filters_and_links_to_the_original(site: Site) -> None:
    result = call(site, site.keys["reader"], "search",
                  {"question": "lockout padlock main disconnect", "k": 3,
                   "filters": {"doc_type": "sop"}})  # fmt: skip
    passages = result.structured_content["passages"]
    assert passages and not result.is_error
    assert all(p["doc_id"].startswith("SOP-") and p["authority"] == "official" for p in passages)
    first = passages[0]
    assert "lockout" in first["text"].lower() and first["label"].startswith(first["doc_id"])
    assert first["highlight"] and first["highlight"] in first["text"]
    opened = httpx.get(first["link"].split("#")[0])  # a signed link: no key needed
    assert opened.status_code == 200 and b"padlock" in opened.content.lower()


def test_a_key_without_the_group_sees_nothing_of_a_restricted_document(site: Site) -> None:
    assert "SOP-SEC-001" not in doc_ids(call(site, site.keys["reader"], "search", SECRET))
    assert "SOP-SEC-001" in doc_ids(call(site, site.keys["molding"], "search", SECRET))
    hidden = call(site, site.keys["reader"], "get_document", {"doc_id": "SOP-SEC-001"})
    shown = call(site, site.keys["molding"], "get_document", {"doc_id": "SOP-SEC-001"})
    assert hidden.is_error and "no document 'SOP-SEC-001'" in hidden.content[0].text
    assert not shown.is_error and shown.structured_content["revisions"][0]["access"] == ["molding"]
    facets = call(site, site.keys["reader"], "list_facets", {}).structured_content["facets"]
    assert "sop" in facets["doc_type"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"question": "", "k": 3}, "question"),
        ({"question": " \t "}, "question is empty"),
        ({"question": "lockout", "k": 99}, "less than or equal to 50"),
        ({"question": "lockout", "mode": "telepathy"}, "mode"),
        ({"question": "lockout", "filters": {"colour": "red"}}, "colour"),
        ({"question": "x" * 2001}, "the limit is 2000"),
    ],
)
def test_a_bad_argument_is_a_tool_error_and_the_server_goes_on(
    site: Site, arguments: dict[str, Any], message: str
) -> None:
    async def work(client: Client) -> Any:
        bad = await client.call_tool("search", arguments)
        good = await client.call_tool("search", {"question": "lockout", "mode": "bm25"})
        return bad, good

    bad, good = over_http(site, site.keys["reader"], work)
    assert bad.is_error and message in bad.content[0].text
    assert not good.is_error and good.structured_content["passages"]


def test_glossary_lookup_finds_a_term_in_either_language(site: Site) -> None:
    for asked in ("毛邊", "FLASH"):
        terms = call(site, site.keys["reader"], "glossary_lookup", {"term": asked})
        assert any(t["zh"] == "毛邊" and t["en"] == "flash"
                   for t in terms.structured_content["terms"]), asked  # fmt: skip


def test_no_key_or_an_unknown_key_is_refused_before_the_sdk(site: Site) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, bearer("shifu_not-a-key")):
        answered = httpx.post(f"{site.url}/mcp", json=message, headers=headers)
        assert answered.status_code == 401 and answered.headers["www-authenticate"] == "Bearer"
        assert "key" in answered.json()["detail"]


def test_calls_are_counted_and_logged_like_requests(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shifu")
    call(site, site.keys["reader"], "list_facets", {})
    logged = [getattr(r, "fields", {}) for r in caplog.records]
    assert {"route": "/mcp", "key_id": "reader"}.items() <= next(
        f for f in logged if f.get("route") == "/mcp").items()  # fmt: skip
    assert any(f.get("tool") == "list_facets" and f.get("key_id") == "reader" for f in logged)
    call(site, site.keys["reader"], "get_document", {"doc_id": "no-such-doc"})
    call(site, site.keys["reader"], "search", {"question": "lockout", "mode": "bm25"})
    metrics = httpx.get(f"{site.url}/metrics").text
    assert 'shifu_mcp_calls_total{outcome="ok",tool="list_facets"}' in metrics
    assert 'shifu_mcp_calls_total{outcome="refused",tool="get_document"}' in metrics
    assert 'shifu_queries_total{mode="bm25"}' in metrics


def stdio(site: Site, key: str | None) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFU_")}
    if key is not None:
        env["SHIFU_API_KEY"] = key
    return StdioServerParameters(command=sys.executable, args=["-m", "service.cli", "mcp",
                                 "--home", str(site.home)], env=env, cwd=str(REPO))  # fmt: skip


def test_shifu_mcp_over_stdio_answers_as_the_environments_key(site: Site) -> None:
    async def run(key: str) -> Any:
        async with Client(stdio(site, key), read_timeout_seconds=120) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool("search", {**SECRET, "filters": {"doc_type": "sop"}})
            bad = await client.call_tool("search", {"question": "lockout", "k": 0})
            return tools, found, bad

    tools, found, bad = anyio.run(run, site.keys["reader"])
    assert tools == TOOLS and bad.is_error
    assert "SOP-SEC-001" not in doc_ids(found)
    _, found, _ = anyio.run(run, site.keys["molding"])
    assert "SOP-SEC-001" in doc_ids(found)
    assert all(p["link"].startswith("http://127.0.0.1:8000/files/")
               for p in found.structured_content["passages"])  # fmt: skip


def test_shifu_mcp_refuses_to_start_without_a_valid_key(site: Site) -> None:
    params = stdio(site, "shifu_wrong")
    done = subprocess.run([params.command, *params.args], env=params.env, cwd=REPO, input="",
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "unknown API key" in done.stderr
    assert done.stdout == ""  # stdout is the protocol's: nothing else is written there
    assert json.dumps(done.stderr)  # a message, not a traceback
    assert "Traceback" not in done.stderr
