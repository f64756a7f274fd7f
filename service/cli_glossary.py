"""`shifu glossary`: the plant's terms in the live index (given by glossary files, mined from
the documents), exported as a CSV that ingests back, and added one at a time."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ingest.loaders.glossary_file import checked_term, glossary_csv
from retriever.glossary import ORIGINS, Origin, Term
from service import cli_common
from service.cli_common import HomeOption, JsonOption, make_settings
from service.cli_errors import err, fail_cleanly

glossary_app = typer.Typer(help="The plant glossary: terms given by glossary files and mined "
                           "from the documents.", no_args_is_help=True)  # fmt: skip
OriginOption = Annotated[
    str | None, typer.Option("--origin", help="only given or only mined terms")
]


def _terms(home: Path | None, origin: str | None) -> list[Term]:
    if origin is not None and origin not in ORIGINS:
        raise typer.BadParameter(f"--origin must be one of {', '.join(ORIGINS)}")
    runtime = cli_common.make_runtime(make_settings(home))
    with fail_cleanly():
        chosen: Origin | None = origin  # type: ignore[assignment]
        return runtime.glossary().of(chosen)


@glossary_app.command("list")
def list_terms(home: HomeOption = None, origin: OriginOption = None,
               as_json: JsonOption = False) -> None:  # fmt: skip
    """Every term: Chinese, English, synonyms, scope, origin, confidence and evidence."""
    terms = _terms(home, origin)
    if as_json:
        typer.echo(json.dumps([asdict(t) for t in terms], ensure_ascii=False))
        return
    for t in terms:
        evidence = ", ".join(f"{e.doc_id}×{e.count}" for e in t.evidence)
        extra = [", ".join(t.synonyms), t.scope or "", evidence]
        typer.echo("\t".join([t.zh, t.en, t.origin, f"{t.confidence:g}", *extra]))
    err.print(f"{len(terms)} terms", highlight=False)


@glossary_app.command("export")
def export(
    out: Annotated[Path | None, typer.Option("--out", help="write here (default stdout)")] = None,
    home: HomeOption = None,
    origin: OriginOption = None,
) -> None:
    """The glossary as CSV (zh, en, synonyms, scope, origin, confidence, evidence)."""
    text = glossary_csv(_terms(home, origin))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    err.print(f"wrote {out}", highlight=False)


@glossary_app.command("add")
def add(
    zh: Annotated[str, typer.Argument(help="the Chinese term, e.g. 堆高機")],
    en: Annotated[str, typer.Argument(help="the English term, e.g. forklift")],
    synonym: Annotated[
        list[str] | None, typer.Option("--synonym", help="another name, either language (repeat)")
    ] = None,
    scope: Annotated[str | None, typer.Option(help="a line or machine it belongs to")] = None,
    home: HomeOption = None,
) -> None:
    """Add a term (or replace the same pair) in this home's own glossary and ingest it."""
    runtime = cli_common.make_runtime(make_settings(home))
    with fail_cleanly():
        term = checked_term(zh, en, synonym or [], scope)
        summary = runtime.add_term(term)
    if summary.failed:
        for failure in summary.failures:
            err.print(f"[red]failed[/red] {failure['path']}: {failure['reason']}", highlight=False)
        raise typer.Exit(1)
    err.print(f"added {term.zh} = {term.en}; generation {summary.generation}", highlight=False)
