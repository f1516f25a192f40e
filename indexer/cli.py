"""The ``vnsearch`` command: index article files, search them, serve them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from indexer.analysis import crf as crfseg
from indexer.analysis.abbreviations import load as load_abbreviations
from indexer.analysis.crf.lines import read_lines, segment_lines
from indexer.cluster.ray_connection import ClusterUnavailable
from indexer.corpus.articles import ReadError
from indexer.search import GROUPS, SORTS, BadRequest, Filters, SearchService, SearchTimeout
from indexer.storage import sharded, store
from indexer.storage.shards import MAX_SHARDS, LayoutError

index_dir_option = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index directory [default: $VNSEARCH_INDEX_DIR or ./index_data].",
)

segment_workers_option = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Segmentation processes [default: number of cores].",
)

wait_option = click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another indexer to finish.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnsearch")
def main() -> None:
    """Vietnamese full-text search over news article passages."""


class _Progress:
    """A progress bar on a terminal, a log line every few seconds otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.count = 0
        self.started = time.monotonic()
        self.last_log = self.started
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(unit=" articles", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, item) -> None:
        self.count += 1
        if isinstance(item, ReadError) and not self.quiet:
            self._write(f"skipped {item}")
        if self.bar is not None:
            self.bar.update(1)
        elif not self.quiet and time.monotonic() - self.last_log >= 5:
            self.last_log = time.monotonic()
            rate = self.count / max(self.last_log - self.started, 1e-9)
            click.echo(f"read {self.count} articles ({rate:.0f}/s)", err=True)

    def _write(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            click.echo(message, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_failed(target, exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return (
        f"writing the index in {target} failed: {exc.strerror or exc}{where}. "
        "The index keeps its last committed state; fix the cause and run again."
    )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_dir_option
@segment_workers_option
@wait_option
@click.option(
    "--prune",
    is_flag=True,
    help="Delete indexed articles not found under PATHS (skipped if any input fails).",
)
@click.option(
    "--batch-passages",
    type=click.IntRange(1),
    default=store.BATCH_PASSAGES,
    show_default=True,
    help="Commit after about this many passages per worker: a crash loses at most one batch.",
)
@click.option(
    "--shards",
    type=click.IntRange(1, MAX_SHARDS),
    default=None,
    help="Shards of a new index (articles routed by a hash of their id); later runs "
    "follow the index [default: 1, a plain index].",
)
@click.option(
    "--ray",
    "ray_address",
    default=None,
    envvar="RAY_ADDRESS",
    help="Index on this Ray cluster: segmentation as Ray tasks, each shard written by a "
    "Ray actor [env: RAY_ADDRESS]. Needs the 'cluster' extra.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary and errors.")
def index(
    paths, index_dir, workers, wait, prune, batch_passages, shards, ray_address, quiet
) -> None:
    """Add new and changed articles under PATHS to the index.

    PATHS are plain-text articles (.txt), JSON Lines files (.jsonl, .jsonl.gz) or
    directories of them. Unchanged articles are skipped; changed ones are replaced.

    Examples: vnsearch index samples/ ;
    vnsearch index news.jsonl.gz --shards 4 --index-dir /srv/vnsearch
    """
    target = store.index_dir_from_env(index_dir)
    progress = _Progress(quiet)
    options = dict(wait=wait, on_article=progress, batch_passages=batch_passages, prune=prune)
    try:
        if ray_address:
            from indexer.storage import ray_writers

            summary = ray_writers.update_on_ray(
                ray_address, target, paths, shards, workers=workers, **options
            )
        else:
            summary = sharded.update_sharded(
                target, paths, shards, workers=workers or os.cpu_count() or 1, **options
            )
    except (store.IndexBusy, store.IndexUnavailable, LayoutError, ClusterUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a full disk, a read-only directory, ...
        raise click.ClickException(_write_failed(target, exc)) from None
    finally:
        progress.close()
    click.echo(summary.line())
    if summary.failed:
        raise SystemExit(2)


@main.command()
@click.argument("article_ids", nargs=-1, required=True)
@index_dir_option
@wait_option
def delete(article_ids, index_dir, wait) -> None:
    """Remove articles (all their passages) from the index.

    Example: vnsearch delete 000_e79570c1fe97e7a4
    """
    target = store.index_dir_from_env(index_dir)
    try:
        found = sharded.delete_sharded(target, article_ids, wait)
    except (store.IndexBusy, store.IndexUnavailable, LayoutError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(_write_failed(target, exc)) from None
    click.echo(f"deleted {found} of {len(article_ids)} articles")


@main.command()
@click.argument("query")
@index_dir_option
@click.option("--limit", "-n", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--category", help="Only passages of this category.")
@click.option("--source", help="Only passages from this source.")
@click.option("--date-from", help="Only articles dated on or after (YYYY-MM-DD).")
@click.option("--date-to", help="Only articles dated on or before (YYYY-MM-DD).")
@click.option(
    "--abbreviations",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="VNSEARCH_ABBREVIATIONS",
    help="Your abbreviation file: its groups replace the shipped groups that share a form "
    "[env: VNSEARCH_ABBREVIATIONS].",
)
@click.option(
    "--group",
    type=click.Choice(GROUPS),
    default=GROUPS[0],
    help=f"{GROUPS[1]}: one result per article, its best passage [default: {GROUPS[0]}].",
)
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default=SORTS[0],
    help=f"{SORTS[1]}: newest first, undated last, ties by relevance [default: {SORTS[0]}].",
)
@click.option("--facets", is_flag=True, help="Also print the counts by category, source and month.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON the web API returns.")
def search(
    query,
    index_dir,
    limit,
    page,
    category,
    source,
    date_from,
    date_to,
    abbreviations,
    group,
    sort,
    facets,
    as_json,
):
    """Search passages and print them ranked, matches highlighted.

    Example: vnsearch search "quốc phòng" --group article --sort date
    """
    service = SearchService(
        store.index_dir_from_env(index_dir), abbreviations=load_abbreviations(abbreviations)
    )
    filters = Filters(category, source, date_from, date_to)
    try:
        result = service.search(
            query,
            page=page,
            per_page=limit,
            filters=filters,
            group=group,
            sort=sort,
            facets=facets or as_json,  # the API's JSON has them
        )
    except (BadRequest, SearchTimeout, store.IndexUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        service.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    articles = f"{result.articles} articles, " if result.articles is not None else ""
    click.echo(f"{articles}{result.total} passages ({result.took_ms:.0f} ms)")
    color = sys.stdout.isatty()
    for rank, hit in enumerate(result.results, start=(page - 1) * limit + 1):
        click.echo()
        title = hit.title or hit.article_id
        click.echo(click.style(f"{rank}. {title}", bold=True) + f"  [{hit.id}] {hit.score:.2f}")
        click.echo(_terminal_highlight(hit.highlight, color))
        if hit.more:
            click.echo(f"   (+{hit.more} more passages of this article match)")
    if facets and result.facets:
        click.echo()
        for name, counts in result.facets.items():
            shown = ", ".join(f"{value} ({n})" for value, n in counts.items()) or "-"
            click.echo(f"{name}: {shown}")


def _terminal_highlight(html_text: str, color: bool) -> str:
    from html import unescape

    if color:
        on, off = "\x1b[1;33m", "\x1b[0m"
    else:
        on, off = "[", "]"
    return unescape(html_text.replace("<mark>", on).replace("</mark>", off))


@main.command(name="eval")
@click.argument(
    "datasets",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--max-queries",
    type=click.IntRange(1),
    default=None,
    help="Evaluate a sample of this many queries of each set (fixed seed).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--variant",
    "variants",
    multiple=True,
    type=click.Choice(["orig", "noaccent", "toneswap", "nfd", "upper"]),
    help="Query variants to run [default: all].",
)
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Also run plain BM25 over lower-cased syllables, for comparison.",
)
@click.option(
    "--index-cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep each set's index here and reuse it [default: a temporary index per run].",
)
@segment_workers_option
def evaluate(datasets, max_queries, seed, variants, baseline, index_cache, workers) -> None:
    """Measure ranking quality on BEIR-layout data sets (corpus, queries, qrels).

    Prints MRR@10 of each set by half (a fixed split by query id: A to choose on, B to
    check on) and the mean over the sets, next to plain BM25's.

    Example: vnsearch eval ../shared/data/viquad_test ../shared/data/vicov19qa
    """
    from indexer import evaluation as ev

    variants = list(variants) or list(ev.VARIANTS)
    variants.sort(key=list(ev.VARIANTS).index)
    started = time.monotonic()
    results = {}
    for dataset in datasets:
        data = ev.load(dataset)
        query_ids = ev.sample_queries(data, max_queries, seed)
        click.echo(
            f"{dataset.name}: {len(data.corpus)} passages, {len(query_ids)} of "
            f"{len(data.queries)} queries (seed {seed})",
            err=True,
        )
        cores = workers or os.cpu_count() or 1
        with ev.indexed(data, dataset.name, index_cache, cores) as index_dir:
            results[dataset.name] = {
                ev.PRODUCT: ev.evaluate_product(data, query_ids, variants, index_dir)
            }
        if baseline:
            results[dataset.name][ev.BASELINE] = ev.evaluate_bm25_baseline(
                data, query_ids, variants
            )
    click.echo(ev.table(results, variants))
    click.echo(f"\n({time.monotonic() - started:.0f} s)", err=True)


@main.command()
@index_dir_option
def stats(index_dir) -> None:
    """Print what the index holds."""
    try:
        info, shards = sharded.sharded_stats(store.index_dir_from_env(index_dir))
    except (store.IndexUnavailable, LayoutError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"index:     {info.path}")
    click.echo(f"shards:    {shards}")
    click.echo(f"articles:  {info.articles}")
    click.echo(f"passages:  {info.passages}")
    click.echo(f"segments:  {info.segments}")
    click.echo(f"size:      {info.size_bytes / 1e6:.1f} MB")


@main.command()
@click.argument(
    "files",
    nargs=-1,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object a line: {"text": LINE, "words": [{"word", "start", "end"}, ...]}.',
)
def segment(files, as_json) -> None:
    """Print pyvi's word segmentation of each line of FILES (default: standard input).

    One paragraph a line, UTF-8 in and out. Each output line is what pyvi's
    ViTokenizer.tokenize returns for its input line (the syllables of a word joined by
    "_"); an empty line stays empty. With --json, "start" and "end" are code-point offsets
    of each word in "text" (the line, in NFC). A line that is not UTF-8 is reported on
    standard error with its file and line number and read with U+FFFD for the bad bytes.

    Example: echo "Hà Nội là thủ đô của Việt Nam" | vnsearch segment
    """
    segmenter = crfseg.default_segmenter()
    out = sys.stdout.buffer
    name = "<stdin>"
    try:
        for path in files or (Path("-"),):
            name = "<stdin>" if str(path) == "-" else str(path)
            with _binary_input(path) as stream:
                for batch in segment_lines(read_lines(stream, name, _warn), segmenter, as_json):
                    out.write(("\n".join(batch) + "\n").encode("utf-8"))
                    out.flush()
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as exc:
        raise click.ClickException(f"segmenting {name} failed: {exc.strerror or exc}") from None


def _warn(message: str) -> None:
    click.echo(f"segment: {message}", err=True)


def _binary_input(path: Path):
    if str(path) == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    return path.open("rb")


@main.command()
@index_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes [default: number of cores].",
)
@click.option(
    "--ray",
    "ray_address",
    default=None,
    help="Serve the shards from Ray actors on this cluster (the page and the API stay "
    "here). Needs the 'cluster' extra.",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="With --ray: actors per shard, placed on the cluster's nodes.",
)
def serve(index_dir, host, port, workers, ray_address, replicas) -> None:
    """Serve the search page and the JSON API with gunicorn.

    Examples: vnsearch serve --port 8000 ;
    vnsearch serve --index-dir /srv/vnsearch --ray 10.0.0.5:6379 --replicas 2
    """
    env = dict(os.environ)
    target = store.index_dir_from_env(index_dir).resolve()
    env["VNSEARCH_INDEX_DIR"] = str(target)
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers or os.cpu_count() or 1),
        "--preload",
        # gunicorn caps request lines at 8190 bytes at most and answers longer ones with its
        # own HTML 414; a 1,000-letter Vietnamese query is longer once percent-encoded. With
        # no cap here, the app itself answers every over-long query with a JSON 400/414.
        "--limit-request-line",
        "0",
        "--access-logfile",
        "-",
        "webapp:create_app()",
    ]
    if not ray_address:
        click.echo(f"serving on http://{host}:{port}", err=True)
        os.execvpe(sys.executable, args, env)
    from indexer.search import ray_fanout

    try:
        ray_fanout.start(ray_address, target, replicas)
    except (ClusterUnavailable, LayoutError, store.IndexUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    env["VNSEARCH_RAY_ADDRESS"] = ray_address
    env["VNSEARCH_RAY_REPLICAS"] = str(replicas)
    click.echo(f"serving on http://{host}:{port}, shards on Ray at {ray_address}", err=True)
    server = subprocess.Popen(args, env=env)
    # Stopped (Ctrl-C, SIGTERM): the server stops, then the actors this command started.
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    try:
        server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait()
    finally:
        ray_fanout.stop(ray_address, target, replicas)
    raise SystemExit(server.returncode)


if __name__ == "__main__":
    main()
