"""`shifu mcp`: the MCP tools over stdio, for a desktop AI agent that starts Shifu itself."""

from __future__ import annotations

import os

import typer

from service import cli_common
from service.cli_common import HomeOption, make_settings
from service.cli_errors import err, fail_cleanly

KEY_VARIABLE = "SHIFU_API_KEY"  # the agent's key: from its MCP configuration's environment


def mcp_cmd(home: HomeOption = None) -> None:
    """Serve the MCP tools (search, get_document, list_facets, glossary_lookup) on stdin and
    stdout, as the key in $SHIFU_API_KEY (its role and access groups). Links to originals
    point at `shifu serve` (SHIFU_PUBLIC_URL, default http://HOST:PORT)."""
    from service.mcp_edge import serve_stdio
    from service.security import AuthError

    settings = make_settings(home)
    runtime = cli_common.make_runtime(settings)
    with fail_cleanly():
        try:
            serve_stdio(runtime, os.environ.get(KEY_VARIABLE) or None, settings.served_url)
        except AuthError as exc:
            err.print(f"[red]error:[/red] {exc}; set {KEY_VARIABLE} to a key from `shifu keys "
                      "add`", highlight=False)  # fmt: skip
            raise typer.Exit(2) from exc
