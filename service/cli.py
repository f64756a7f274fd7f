"""`shifu`: a thin command line over the Python API: ingest, query, eval and serve here; keys
(cli_keys.py), feedback export (cli_feedback.py), glossary (cli_glossary.py), migrate
(cli_store.py), tune (cli_tune.py), mcp (cli_mcp.py), watch (cli_watch.py), audit
(cli_audit.py), backup and restore (cli_backup.py) beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.bm25.translation import default_lexicon
from retriever.ranking.metrics import metric_names
from retriever.ranking.modes import DEFAULT_MODE, described, reranks
from service import cli_common
from service.answering import QuestionError, checked_question
from service.cli_audit import audit_cmd
from service.cli_backup import backup_cmd, restore_cmd
from service.cli_common import Bar, HomeOption, JsonOption, make_settings, progress_bars
from service.cli_errors import err, fail_cleanly
from service.cli_feedback import feedback_app
from service.cli_glossary import glossary_app
from service.cli_keys import keys_app
from service.cli_mcp import mcp_cmd
from service.cli_store import migrate_cmd
from service.cli_tune import tune_cmd
from service.cli_watch import check_folders, watch_cmd
from service.runtime import Runtime
from service.settings import LOOPBACK

app = typer.Typer(
    help="Shifu (師傅): cited answers from SOPs and expert interviews.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(feedback_app, name="feedback")
app.add_typer(glossary_app, name="glossary")
app.command("migrate")(migrate_cmd)
app.command("tune")(tune_cmd)
app.command("mcp")(mcp_cmd)
app.command("watch")(watch_cmd)
app.command("audit")(audit_cmd)
app.command("backup")(backup_cmd)
app.command("restore")(restore_cmd)


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="files and folders (recursive)")],
    home: HomeOption = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="drop documents whose files are gone")
    ] = False,
    ray_workers: Annotated[
        int | None,
        typer.Option("--ray-workers", min=0, help="embed on N Ray actors (laoshifu[ray]; 0 off)"),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster to join (default: local)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load, chunk and embed documents into the index; unchanged files are skipped."""
    settings = make_settings(home, ray_workers=ray_workers, ray_address=ray_address)
    runtime = cli_common.make_runtime(settings)
    with fail_cleanly(), progress_bars() as progress:
        summary = runtime.ingest(paths, prune=prune, progress=Bar(progress),
                                 ocr_progress=Bar(progress, "OCR pages"))  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        _print_summary(summary.to_dict())
    raise typer.Exit(1 if summary.failed else 0)


def _print_summary(data: dict[str, Any]) -> None:
    for failure in data["failures"]:
        err.print(f"[red]failed[/red] {failure['path']}: {failure['reason']}", highlight=False)
    for warning in data["warnings"]:
        err.print(f"[yellow]warning[/yellow] {warning['path']}: {warning['message']}",
                  highlight=False)  # fmt: skip
    for source, fields in data["defaulted"].items():
        err.print(f"defaulted {', '.join(fields)} for {source}", highlight=False)
    for revision in data["superseded"]:
        err.print(f"superseded {revision}", highlight=False)
    if data["skipped"]:
        counts = ", ".join(f"{n} {ext}" for ext, n in sorted(data["skipped"].items()))
        err.print(f"skipped files of types Shifu does not read: {counts}", highlight=False)
    if data["glossary_terms"] or data["mined_terms"]:
        counts = f"{data['glossary_terms']} terms from glossary files, "
        err.print(f"glossary: {counts}{data['mined_terms']} term pairs mined from documents",
                  highlight=False)  # fmt: skip
    typer.echo(
        "added {added}, updated {updated}, unchanged {unchanged}, removed {removed}, "
        "failed {failed}, skipped {skipped_files}; {chunks} chunks ({embedded} embedded) from "
        "{pages} pages ({ocr_pages} by OCR) in {seconds:.1f} s".format(
            **data, skipped_files=sum(data["skipped"].values())
        )
    )


@app.command("query")
def query_cmd(
    question: Annotated[str, typer.Argument(help="the question")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="passages to return")] = 5,
    mode: Annotated[str, typer.Option(help=described())] = DEFAULT_MODE,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="KEY=VALUE metadata filter (repeatable; a repeated KEY "
            "matches any of its values), e.g. --filter doc_type=sop",
        ),
    ] = None,
    include_superseded: Annotated[
        bool, typer.Option("--include-superseded", help="also rank superseded revisions")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the top passages for a question, with their citations."""
    settings = make_settings(home)
    try:
        question = checked_question(question, settings.max_question_chars)
    except QuestionError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from exc
    runtime = cli_common.make_runtime(settings)
    with fail_cleanly():
        filters = parse_filters(filter_ or [])
        result = runtime.query(question, k, mode, filters, include_superseded)
    if as_json:
        from service.app import result_body

        typer.echo(json.dumps(result_body(question, result), ensure_ascii=False, indent=2))
        return
    if result.expansions:
        shown = "; ".join(f"{e.term} → {', '.join(e.translations[:3])} ({e.source})"
                          for e in result.expansions)  # fmt: skip
        err.print(f"translated: {shown}", highlight=False, soft_wrap=True)
    if not result.passages:
        typer.echo("no passages found")
    for rank, passage in enumerate(result.passages, start=1):
        typer.echo(f"{rank}. [{passage.score:.3f}] {passage.citation.label}")
        typer.echo("   " + " ".join(_marked(passage.text, passage.highlight).split())[:400])


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--filter takes KEY=VALUE, not {item!r}")
        filters.setdefault(key.strip(), []).append(value.strip())
    return filters


def _marked(text: str, span: tuple[int, int] | None) -> str:
    """The passage with its best sentence between » and «, for a terminal."""
    if span is None:
        return text
    start, end = span
    return f"{text[:start]}»{text[start:end]}«{text[end:]}"


@app.command("eval")
def eval_cmd(
    dataset: Annotated[Path, typer.Argument(help="folder in BEIR layout")],
    mode: Annotated[
        list[str] | None,
        typer.Option("--mode", help=f"{described()} (repeatable)"),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="cut-off of nDCG/R/RR")] = 10,
    home: HomeOption = None,
    as_json: JsonOption = False,
    report: Annotated[Path | None, typer.Option("--report", help="write a report here")] = None,
    fail_under: Annotated[
        list[str] | None, typer.Option("--fail-under", help="METRIC=VALUE; exit 1 below it")
    ] = None,
    glossary: Annotated[
        Path | None,
        typer.Option("--glossary", help="the plant glossary for the set (default: a glossary "
                     "file in its folder, if any)"),
    ] = None,
) -> None:
    """Measure retrieval on a BEIR-layout set; several --mode values give one comparison."""
    from service.eval_report import failures, markdown_table, parse_thresholds, write_report
    from service.evaluation import evaluate

    settings = make_settings(home)
    runtime = cli_common.make_runtime(settings)
    modes = mode or [DEFAULT_MODE]
    with fail_cleanly():
        thresholds = parse_thresholds(fail_under or [], metric_names(k))
        with progress_bars() as progress:
            result = evaluate(
                dataset, modes, runtime.encoder, settings.home / "eval-cache",
                runtime.chunking, k, progress=lambda label: Bar(progress, label),
                reranker=runtime.reranker if any(reranks(m) for m in modes) else None,
                backend_for=settings.vector_backend if settings.store != "faiss" else None,
                glossary=glossary,
            )  # fmt: skip
    typer.echo(
        json.dumps(result.to_dict(), ensure_ascii=False) if as_json else markdown_table(result)
    )
    if report is not None:
        for path in write_report(result, report):
            err.print(f"wrote {path}", highlight=False)
    below = failures(result, thresholds)
    for line in below:
        err.print(f"[red]below threshold[/red] {result.dataset} {line}", highlight=False)
    raise typer.Exit(1 if below else 0)


@app.command("serve")
def serve_cmd(
    home: HomeOption = None,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="no API keys (development; loopback only)")
    ] = False,
    watch: Annotated[
        list[Path] | None,
        typer.Option("--watch", help="also ingest what changes under this folder (repeatable; "
                     "SHIFU_WATCH_* settings, see `shifu watch`)"),
    ] = None,
) -> None:
    """Serve the HTTP API, the search page and the MCP server (/mcp)."""
    import uvicorn

    from service.app import create_app
    from service.observability import configure_json_logs

    if no_auth and host not in LOOPBACK:
        err.print(f"[red]error:[/red] --no-auth binds only to loopback, not {host}")
        raise typer.Exit(2)
    check_folders(watch or [])
    settings = make_settings(home, host=host, port=port, auth=False if no_auth else None)
    fastapi_app = create_app(settings)
    with fail_cleanly():
        _first_key(fastapi_app.state.runtime)
        err.print(f"loading model {settings.model} ...")
        _ = fastapi_app.state.runtime.encoder  # fail before binding, not on the first query
        lexicon = default_lexicon()  # seconds to read: not on the first cross-language question
        if lexicon is not None:
            lexicon.english_side()  # read on the first English question otherwise
    if settings.log_json:
        configure_json_logs()
    watcher = _watching(fastapi_app, watch or [])
    try:
        uvicorn.run(fastapi_app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        if watcher is not None:
            watcher.stop()


def _watching(fastapi_app: Any, folders: list[Path]) -> Any:
    """`--watch`: the watcher runs in the server's process, its status in /v1/health."""
    if not folders:
        return None
    from service.watcher import FolderWatcher, WatchConfig

    runtime = fastapi_app.state.runtime
    config = WatchConfig.of(runtime.settings)
    watcher = FolderWatcher(runtime, folders, config, metrics=fastapi_app.state.metrics)
    fastapi_app.state.watcher = watcher.start()
    return watcher


def _first_key(runtime: Runtime) -> None:
    """A home with auth on and no key yet gets an admin key, printed this once."""
    if not runtime.settings.auth or runtime.keys():
        return
    from service.auth import add_key

    key = add_key(runtime.settings.key_path, "admin", "admin", [])
    err.print(f"created the first API key (admin), shown only now:\n\n    {key}\n\n"
              f"its hash is in {runtime.settings.key_path}; add more with `shifu keys add`",
              highlight=False)  # fmt: skip


def main() -> None:  # pragma: no cover - console entry for `python -m service.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
