"""The ``cgd-bridge`` command: the only place that prints or sets exit codes.

Exit codes: 0 valid (warnings allowed), 1 problems found, 2 could not run (unreadable input,
bad arguments). Errors are one plain sentence on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from cgd_bridge import cli_i18n
from cgd_bridge.cli_i18n import Group
from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.i18n import N_

EXIT_VALID, EXIT_INVALID, EXIT_FAILED = 0, 1, 2


class _State:
    debug = False
    data_dir: Path | None = None
    #: the language of the command's report, for its error line too (set by ``_translator``)
    t: Any = None
    #: ``cgd-bridge --lang X``: the group's language, for every command
    lang: str | None = None


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the installed version, read only when asked (importlib.metadata is
    start-up time every other command would pay)."""
    if not value or ctx.resilient_parsing:
        return
    from cgd_bridge import __version__

    click.echo(cli_i18n.current().gettext(N_("cgd-bridge, version {version}"), version=__version__))
    ctx.exit()


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
    help="Show the version and exit.",
)  # fmt: skip
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the structure store (default: $CGD_BRIDGE_DATA_DIR, else ~/.local/share/cgd-bridge).",
)
@click.option(
    "--lang",
    "lang",
    default=None,
    metavar="LANG",
    help="The language of every command's messages, reports and help: en, sw, ne, bn (default: "
    "$CGD_BRIDGE_LANG, else your LANG setting if offered, else en).",
)
def cli(debug: bool, data_dir: Path | None, lang: str | None) -> None:
    """Bridge citizen-generated data to national statistics offices in SDMX."""
    _State.debug = debug
    _State.data_dir = data_dir
    _State.t = None  # each command reads its own --lang or CGD_BRIDGE_LANG (a test runs many)
    _State.lang = lang
    if lang:
        _translator(lang)  # refuses a language without a catalogue, as a command's --lang does


def _lang_option(f: Any) -> Any:
    """``--lang``: the language of the report (``CGD_BRIDGE_LANG``, else the system's ``LC_ALL``,
    ``LC_MESSAGES`` or ``LANG`` when a catalogue has it, else English)."""
    return click.option(
        "--lang",
        "lang",
        envvar="CGD_BRIDGE_LANG",
        default=None,
        metavar="LANG",
        help="The report's language: en, sw, ne, bn (default: your LANG setting if offered, else en).",
    )(f)


def _translator(lang: str | None) -> Any:
    """The translator of ``--lang`` (refused with the offered languages when it has none), else
    of the system's ``LANG`` when offered, else English. A command's own ``--lang`` on the
    command line wins over the group's (``cgd-bridge --lang sw validate ...``), which wins over
    ``CGD_BRIDGE_LANG`` (the command's ``--lang`` read from the environment)."""
    from cgd_bridge import i18n
    from cgd_bridge.errors import UsageError

    if _State.lang and not _given_on_the_command_line("lang"):
        lang = _State.lang
    if lang:
        chosen = i18n.normalise(lang)
        if chosen is None:
            _State.t = _system_translator()  # the refusal itself in the system's language
            raise UsageError(
                i18n.N_("there is no catalogue for the language '{lang}'"),
                fix=i18n.N_("Use --lang with one of: {offered}."),
                params={"lang": lang, "offered": ", ".join(i18n.offered())},
            )
        _State.t = i18n.translator(chosen)
        return _State.t
    _State.t = _system_translator()
    return _State.t


def _given_on_the_command_line(name: str) -> bool:
    """Whether the running command's parameter ``name`` was typed on its command line."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _system_translator() -> Any:
    """The translator of the system's ``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` when offered,
    else English."""
    return cli_i18n.system_translator()


def _t() -> Any:
    """The language of this command's messages: its ``--lang`` once read, else
    ``CGD_BRIDGE_LANG`` when offered, else the system's (:func:`_translator`)."""
    if _State.t is None:
        _State.t = cli_i18n.default_translator()
    return _State.t


def _message_in(problem: Any, t: Any) -> str:
    """A warning's sentence in the language of ``t`` (an error of ours is translated; another
    kind of warning keeps its own text)."""
    if isinstance(problem, CgdBridgeError):
        return problem.message_in(t)
    return str(getattr(problem, "message", problem))


def _say(text: str, /, *, err: bool = False, **values: Any) -> None:
    """Print the message id ``text`` in the command's language, formatted with ``values``."""
    click.echo(_t().gettext(text, **values), err=err)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--metadata",
    "-m",
    type=click.Path(path_type=Path),
    help="The filled cgd-quality/1.0 file (YAML or JSON).",
)
@click.option("--mapping", type=click.Path(path_type=Path), help="A mapping whose schema describes the data.")
@click.option("--form", type=click.Path(path_type=Path), help="The XLSForm of a Kobo/ODK export.")
@click.option("--sheet", help="The spreadsheet sheet to read (default: the first).")
@click.option(
    "--stage",
    type=click.Choice(["submission", "release"]),
    default="submission",
    show_default=True,
    help="Which required metadata fields are errors.",
)
@click.option(
    "--threshold",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Small-cell threshold when the metadata declares none (below 3 refused, below 5 a warning).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 1),
    default=None,
    help="Relative tolerance for parts adding up to totals (default: the schema's, else 0).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write the report to this file.")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Findings kept per code (all are counted).",
)
@_lang_option
def validate(
    data: Path,
    metadata: Path | None,
    mapping: Path | None,
    form: Path | None,
    sheet: str | None,
    stage: str,
    threshold: int,
    tolerance: float | None,
    fmt: str,
    output: Path | None,
    limit: int,
    lang: str | None,
) -> None:
    """Check DATA and its quality metadata before submission; report what to fix."""
    from cgd_bridge.checks import Options
    from cgd_bridge.i18n import N_
    from cgd_bridge.pipeline import validate as run_validation
    from cgd_bridge.render import RENDERERS

    t = _translator(lang)
    options = Options(stage=stage, threshold=threshold, tolerance=tolerance)
    with _progress(t.gettext(N_("Checking {file}"), file=data.name)) as progress:
        report = run_validation(
            data, metadata=metadata, mapping=mapping, form=form, sheet=sheet, options=options,
            progress=progress, structures=_load_structures() if mapping else None,
        )  # fmt: skip
    report.limit_per_code = limit
    text = RENDERERS[fmt](report, t=t)
    if output is not None:
        from cgd_bridge.render import counts

        write_atomic(output, text)
        click.echo(
            t.gettext(
                N_("{verdict}: {counts}. Report written to {output}."),
                verdict=t.gettext(N_("Valid") if report.valid else N_("Not valid")),
                counts=counts(report, t),
                output=output,
            ),
            err=True,
        )
    else:
        click.echo(text, nl=False)
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path), required=False)
@click.option("--metadata", "-m", type=click.Path(path_type=Path), help="The filled cgd-quality/1.0 file.")
@click.option("--mapping", type=click.Path(path_type=Path), help="The mapping to the target dataflow.")
@click.option("--to", "to", help="The output format (see --list-formats).")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="The file to write.")
@click.option("--form", type=click.Path(path_type=Path), help="The XLSForm of a Kobo/ODK export.")
@click.option("--sheet", help="The spreadsheet sheet to read (default: the first).")
@click.option(
    "--force", is_flag=True, help="Convert despite validation errors (observations marked OBS_STATUS U)."
)
@click.option(
    "--labels",
    type=click.Choice(["id", "name", "both"]),
    help="SDMX-CSV only: names beside the IDs: 'both' writes 'ID: Name', 'name' adds a name column "
    "after each ID column (SDMX-CSV 2.0). Default: IDs only.",
)
@click.option(
    "--metadata-out",
    type=click.Path(path_type=Path),
    help="Also write the quality metadata as an SDMX reference metadata set to this file.",
)
@click.option(
    "--metadata-format",
    default="sdmx-ml-2.1-genericmetadata",
    show_default=True,
    help="The format of --metadata-out (see 'cgd-bridge metadata export --list-formats').",
)
@click.option(
    "--detail",
    type=click.Choice(["full", "dataonly", "serieskeysonly", "nodata"]),
    default="full",
    show_default=True,
    help="How much to write, as the SDMX REST parameter: everything; no attributes; the series "
    "keys only; the series keys with their series attributes (the last two write no observations).",
)
@click.option(
    "--dimension-at-observation",
    "dimension_at_observation",
    metavar="DIM|AllDimensions",
    default="TIME_PERIOD",
    show_default=True,
    help="The dimension each observation is given by within its series (another dimension of the "
    "dataflow, e.g. REF_AREA), or AllDimensions for observations without series (SDMX-ML, "
    "SDMX-JSON; SDMX-CSV is flat whatever it is).",
)
@click.option(
    "--time-format",
    "time_format",
    type=click.Choice(["original", "normalized"]),
    default="original",
    show_default=True,
    help="SDMX-CSV only (timeFormat): 'normalized' writes each TIME_PERIOD as the ISO 8601 date "
    "its period starts on (2024-Q2 -> 2024-04-01).",
)
@click.option(
    "--keys",
    type=click.Choice(["none", "series", "obs", "both"]),
    default="none",
    show_default=True,
    help="SDMX-CSV only (keys): add a SERIES_KEY and/or OBS_KEY column (dimension values joined by '.').",
)
@click.option("--list-formats", is_flag=True, help="List the output formats and exit.")
@_lang_option
def convert(
    data: Path | None,
    metadata: Path | None,
    mapping: Path | None,
    to: str | None,
    output: Path | None,
    form: Path | None,
    sheet: str | None,
    force: bool,
    labels: str | None,
    metadata_out: Path | None,
    metadata_format: str,
    detail: str,
    dimension_at_observation: str,
    time_format: str,
    keys: str,
    list_formats: bool,
    lang: str | None,
) -> None:
    """Validate DATA, map it with MAPPING and write it as SDMX (format --to) to --output."""
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import N_, msg, nmsg
    from cgd_bridge.pipeline import convert as run_conversion
    from cgd_bridge.sdmx.formats import FORMATS, get_format

    t = _translator(lang)
    if list_formats:
        for f in FORMATS.values():
            click.echo(f"{f.name:22} {f.title:46} {f.media_type}")
        return
    needed = (("DATA", data), ("--metadata", metadata), ("--mapping", mapping), ("--to", to))
    missing = [name for name, value in needed if not value]
    if missing or not (data and metadata and mapping and to):
        raise UsageError(
            N_("convert needs {missing}"),
            fix=N_("See cgd-bridge convert --help."),
            params={"missing": ", ".join(missing)},
        )
    fmt = get_format(to)
    if labels is not None and labels not in fmt.labels:
        takes = [f.name for f in FORMATS.values() if labels in f.labels]
        raise UsageError(
            N_("--labels {labels} is not an option of {format}"),
            fix=N_("Leave --labels out, or convert to one of: {formats}."),
            params={"labels": labels, "format": fmt.title, "formats": ", ".join(takes)},
        )
    out = output or data.with_suffix(f".{fmt.name}{fmt.suffix}")
    with _progress(t.gettext(N_("Converting {file}"), file=data.name)) as progress:
        result = run_conversion(
            data, metadata=metadata, mapping=mapping, to=fmt.name, output=out, form=form, sheet=sheet,
            force=force, progress=progress, structures=_load_structures(), labels=labels or "id",
            metadata_out=metadata_out, metadata_format=metadata_format, detail=detail,
            dimension_at_observation=dimension_at_observation, time_format=time_format, keys=keys,
        )  # fmt: skip
    report = result.report
    if result.refused:
        from cgd_bridge.render import render_text

        click.echo(render_text(report, t=t), err=True, nl=False)
        said = t.gettext(N_("Not converted: {reason}"), reason=t.text(result.refusal))
        click.echo(t.gettext(N_("{sentence}."), sentence=said.rstrip(".।")), err=True)
        sys.exit(EXIT_INVALID)
    h = result.harmonised
    dropped = sum(d.count for d in h.dropped) if h else 0
    what = (
        nmsg("{n} observation", "{n} observations", result.written)
        if detail in ("full", "dataonly")
        else nmsg(
            "{n} series (detail {detail}, no observations)",
            "{n} series (detail {detail}, no observations)",
            result.written,
            detail=detail,
        )
    )
    said = t.template(
        N_("Wrote {what} as {format} to {output}{dropped}{forced}"),
        {
            "what": what,
            "format": fmt.title,
            "output": str(out),
            "dropped": nmsg(
                " ({n} row dropped by the mapping's rules)",
                " ({n} rows dropped by the mapping's rules)",
                dropped,
            )
            if dropped
            else "",
            "forced": msg(N_(" despite validation errors (marked OBS_STATUS U)")) if not report.valid else "",
        },
    )
    click.echo(t.gettext(N_("{sentence}."), sentence=said))
    if result.metadata:
        click.echo(
            t.gettext(
                N_("Wrote the quality metadata as {format} to {output}."),
                format=metadata_format,
                output=result.metadata,
            )
        )


@cli.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("out/demo"),
    show_default=True,
    help="Folder for the example reports, the SDMX files and the demo database.",
)
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Then start the bridge server on the demo database (Ctrl-C stops it); with --no-serve, "
    "prepare everything and exit.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the demo server listens on.")
@click.option("--port", default=8000, type=int, show_default=True, help="Port the demo server listens on.")
def demo(output: Path, serve: bool, host: str, port: int) -> None:
    """Run the whole bridge on the bundled examples.

    Validates the examples, converts them to SDMX and writes the reports into OUTPUT; then
    creates a demo database (organisations, people, API keys, MoUs, both examples submitted,
    accepted and published), prints the keys and example URLs, and serves it. The database and
    the server need the server extra (pip install 'cgd-bridge[server]'); without it, --no-serve
    still checks and converts the examples.
    """
    if serve:
        require_server_extra()
    from cgd_bridge.pipeline import convert as run_conversion
    from cgd_bridge.pipeline import examine
    from cgd_bridge.render import RENDERERS
    from cgd_bridge.resources import bundled

    t = _t()
    examples = bundled("examples")
    mappings = bundled("mappings")
    output.mkdir(parents=True, exist_ok=True)
    all_valid = True
    for folder in sorted(p for p in examples.iterdir() if (p / "quality.yaml").is_file()):
        data = next((folder / n for n in ("data.csv", "data.xlsx") if (folder / n).is_file()), None)
        if data is None:
            continue
        form = folder / "form.xlsx"
        inputs = {
            "metadata": folder / "quality.yaml",
            "mapping": mapping if (mapping := mappings / f"{folder.name}.yaml").is_file() else None,
            "form": form if form.is_file() else None,
        }
        validation = examine(data, **inputs)  # type: ignore[arg-type]
        report = validation.report
        all_valid &= report.valid
        for fmt, suffix in (("text", "txt"), ("json", "json"), ("html", "html")):
            write_atomic(output / f"{folder.name}.report.{suffix}", RENDERERS[fmt](report, t=t))
        click.echo(f"== {folder.name}")
        click.echo(RENDERERS["text"](report, t=t))
        if report.valid and validation.harmonised is not None:
            for to, suffix in (("sdmx-ml-2.1-ss", "xml"), ("sdmx-csv-2.0", "csv")):
                out = output / f"{folder.name}.{to}.{suffix}"
                result = run_conversion(data, to=to, output=out, **inputs)  # type: ignore[arg-type]
                said = t.ngettext(
                    "SDMX: {n} observation written to {path}",
                    "SDMX: {n} observations written to {path}",
                    result.written or 0,
                    path=out,
                )
                click.echo(f"   {said}")
    _say(N_("Reports written to {output}/ (open the .html files in a browser)."), output=output)
    if missing_server_extra() is None:
        url = _demo_database(output, host, port)
        if serve:
            from cgd_bridge.server.run import run_server

            run_server(_settings(), host=host, port=port, database_url=url, say=click.echo, t=t)
        else:
            click.echo()
            _say(
                N_("Serve it with: {command}"), command=f"cgd-bridge serve --port {port} --database-url {url}"
            )
    else:
        _say(N_("The demo database needs the bridge server: {command}"), command=SERVER_EXTRA)
    sys.exit(EXIT_VALID if all_valid else EXIT_INVALID)


def _demo_database(output: Path, host: str, port: int) -> str:
    """Seed a fresh demo database in ``output``, print its keys and URLs, and give its URL."""
    from cgd_bridge.server.demo import DEMO_PASSWORD, seed
    from cgd_bridge.store import db

    path = (output / "demo.sqlite").resolve()
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    db.upgrade(url)
    t = _t()
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            seeded = seed(session, _load_structures(), progress=lambda m: click.echo(f"   {t.value(m)}"))
    finally:
        engine.dispose()
    base = f"http://{host}:{port}"
    click.echo()
    click.echo("== " + t.gettext(N_("The demo database {path}"), path=path))
    for name, problem in seeded.skipped.items():
        click.echo(
            "   " + t.gettext(N_("not published: {name}: {problem}"), name=name, problem=t.value(problem))
        )
    click.echo(
        "   "
        + t.gettext(
            N_("API keys (shown only now; the demo password of every user is {password}):"),
            password=repr(DEMO_PASSWORD),
        )
    )
    for user, key in seeded.keys.items():
        click.echo(f"     {user:8} {key}")
    click.echo("   " + t.gettext(N_("Try:")))
    pages = t.gettext(
        N_("the web pages: sign in as {cso} (a CSO) or {nso} (an NSO reviewer)"), cso="amina", nso="kamau"
    )
    click.echo(f"     {base}/  ({pages})")
    click.echo(f"     curl '{base}/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?format=csv'")
    click.echo(f"     curl '{base}/sdmx/v2/data/dataflow/IAEG-SDGs/DF_SDG_GLH/1.5/*' -H 'Accept: text/csv'")
    click.echo(
        f"     curl '{base}/api/submissions' -H 'Authorization: Bearer {seeded.keys.get('kamau', '')}'"
    )
    api = t.gettext(N_("the JSON API"))
    click.echo(f"     {base}/docs  ({api})")
    return url


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="The protection range: every suppressed cell must stay this uncertain (the small-cell threshold).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write the report to this file.")
@_lang_option
def audit(file: Path, threshold: int, fmt: str, output: Path | None, lang: str | None) -> None:
    """Audit the suppression of an SDMX data FILE: can a reader work out a suppressed cell?

    FILE is any SDMX data message the bridge writes or an NSO holds: SDMX-CSV 1.0/2.0, SDMX-ML
    2.1 (structure-specific or generic), SDMX-ML 3.0 structure-specific, SDMX-JSON 1.0/2.0.

    The published values are taken as known and the suppressed cells (no value, OBS_STATUS Q or
    CONF_STATUS C) as unknowns; over every additive relation the keys imply (_T totals, age
    bands, area hierarchies of the dataflow's codelist) each suppressed cell's smallest and
    largest possible value is solved. Exit 1 when one is narrower than the threshold.
    """
    from cgd_bridge.i18n import N_
    from cgd_bridge.pipeline import audit_file
    from cgd_bridge.render import RENDERERS

    t = _translator(lang)
    report = audit_file(file, threshold=threshold, structures=_load_structures())
    text = RENDERERS[fmt](report, t=t)
    stats = report.stats.get("audit", {})
    summary = t.gettext(
        N_("Audit of {file}: {suppressed}, {audited} audited over {relations}, {exposed} exposed"),
        file=file.name,
        suppressed=t.ngettext("{n} suppressed cell", "{n} suppressed cells", stats.get("suppressed", 0)),
        audited=t.number(stats.get("audited", 0)),
        relations=t.ngettext("{n} relation", "{n} relations", stats.get("relations", 0)),
        exposed=t.number(stats.get("exposed", 0)),
    )
    if stats.get("not_additive"):
        summary += t.gettext(
            N_(
                "; {n} in series that do not add up (percentages, rates): their counts are not in "
                "the file, so they cannot be audited from it"
            ),
            n=t.number(stats["not_additive"]),
        )
    if stats.get("not_audited"):
        summary += t.gettext(
            N_("; {n} not audited (the LP budget ran out)"), n=t.number(stats["not_audited"])
        )
    if output is not None:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)
    click.echo(t.gettext(N_("{sentence}."), sentence=summary), err=True)
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


@cli.command()
@click.option("--markdown", is_flag=True, help="Print the Markdown of docs/findings.md.")
@_lang_option
def checks(markdown: bool, lang: str | None) -> None:
    """List every finding code the checks can report."""
    from cgd_bridge.findings import CHECKS
    from cgd_bridge.render import render_checks_markdown

    text = render_checks_markdown()
    if markdown:
        click.echo(text, nl=False)
        return
    t = _translator(lang)
    for spec in sorted(CHECKS.values(), key=lambda s: (s.family, s.code)):
        click.echo(f"{spec.code:28} {spec.severity.value:8} {spec.family:12} {t.gettext(spec.title)}")


@cli.group()
def metadata() -> None:
    """The cgd-quality/1.0 quality-metadata template."""


@metadata.command("template")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Write the template here (default: print it)."
)
@_lang_option
def metadata_template(output: Path | None, lang: str | None) -> None:
    """Print (or write) the commented, fill-in metadata template."""
    from cgd_bridge.i18n import N_
    from cgd_bridge.metadata.template import render_template

    _translator(lang)
    text = render_template()
    if output:
        write_atomic(output, text)
        _say(N_("Template written to {output}."), err=True, output=output)
    else:
        click.echo(text, nl=False)


@metadata.command("export")
@click.argument("quality", type=click.Path(path_type=Path), required=False)
@click.option("--dataflow", help="The dataflow the metadata set attaches to, as AGENCY:ID(VERSION).")
@click.option(
    "--to", "to", default="sdmx-ml-2.1-genericmetadata", show_default=True, help="The metadata format."
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="The file to write (default: print it)."
)
@click.option("--list-formats", is_flag=True, help="List the metadata formats and exit.")
@click.option(
    "--structures",
    is_flag=True,
    help="Instead, write the extension MSD and the metadataflows the sets are reported against "
    "(SDMX-ML 3.0).",
)
@_lang_option
def metadata_export(
    quality: Path | None,
    dataflow: str | None,
    to: str,
    output: Path | None,
    list_formats: bool,
    structures: bool,
    lang: str | None,
) -> None:
    """Export a filled QUALITY file as an SDMX reference metadata set attached to --dataflow."""
    from cgd_bridge.errors import TemplateError, UsageError
    from cgd_bridge.i18n import N_, nmsg
    from cgd_bridge.metadata import load_metadata
    from cgd_bridge.sdmx.formats import METADATA_FORMATS, get_metadata_format
    from cgd_bridge.sdmx.write.refmeta import extension_structures, render_metadata

    t = _translator(lang)
    if list_formats:
        for f in METADATA_FORMATS.values():
            click.echo(f"{f.name:28} {f.title:36} {f.media_type}")
        return
    if structures:
        text = extension_structures().decode("utf-8")
        if output:
            write_atomic(output, text)
            _say(N_("Wrote the extension MSD and metadataflows to {output}."), err=True, output=output)
        else:
            click.echo(text, nl=False)
        return
    if quality is None or not dataflow:
        missing = [n for n, v in (("QUALITY", quality), ("--dataflow", dataflow)) if not v]
        raise UsageError(
            N_("metadata export needs {missing}"),
            fix=N_("See cgd-bridge metadata export --help."),
            params={"missing": ", ".join(missing)},
        )
    fmt = get_metadata_format(to)
    loaded = load_metadata(quality)
    errors = [f for f in loaded.findings if f.severity.value == "error"]
    if errors:
        first_problem, first_fix = errors[0].texts(t)
        raise TemplateError(
            N_("the metadata file has {invalid}, the first at '{field}': {first}"),
            fix=N_("Run cgd-bridge validate with --metadata to see them all, and correct them."),
            file=quality.name,
            params={
                "invalid": nmsg("{n} invalid value", "{n} invalid values", len(errors)),
                "field": errors[0].field or "",
                "first": f"{first_problem}. {first_fix}".strip(),
            },
        )
    data = render_metadata(loaded.model, dataflow, fmt.name)
    if output:
        write_atomic(output, data.decode("utf-8"))
        _say(
            N_("Wrote the quality metadata as {format} to {output}."),
            err=True,
            format=fmt.title,
            output=output,
        )
    else:
        click.echo(data.decode("utf-8"), nl=False)


def _structures_dir() -> Path:
    """The structure store: ``--data-dir``, else ``CGD_BRIDGE_DATA_DIR`` as the settings read it
    (without importing them: pydantic-settings is start-up time a validate does not need)."""
    from cgd_bridge.places import data_dir_from_env

    data_dir = _State.data_dir if _State.data_dir is not None else data_dir_from_env()
    return data_dir.expanduser() / "structures"


def _load_structures() -> Any:
    """The bundled structures plus the local store (imported with 'structures import')."""
    from cgd_bridge.structures import Structures, StructureStore

    return Structures(StructureStore(_structures_dir()))


def _warn_problems(structures: Any) -> None:
    for problem in structures.problems:
        from cgd_bridge.i18n import N_

        _say(N_("Warning: skipped a bundled file: {message}"), err=True, message=problem.message_in(_t()))


def _short_source(source: str) -> str:
    return source if "://" in source or source == "bundled" else Path(source).name


@cli.group()
def structures() -> None:
    """SDMX structures (codelists, DSDs, dataflows): import, list and show them."""


@structures.command("import")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@_lang_option
def structures_import(sources: tuple[str, ...], lang: str | None) -> None:
    """Import SDMX-ML 2.1 or 3.0 structure files or URLs into the local store."""
    from cgd_bridge.i18n import N_
    from cgd_bridge.structures import StructureStore

    t = _translator(lang)
    store = StructureStore(_structures_dir())
    for source in sources:
        infos = store.import_file(source)
        replaced = sum(i.replaced for i in infos)
        said = t.ngettext("{n} artefact imported", "{n} artefacts imported", len(infos))
        if replaced:
            said += t.ngettext(
                ", {n} replacing the same version already stored",
                ", {n} replacing the same version already stored",
                replaced,
            )
        click.echo(f"{source}: {said}")
        for info in infos:
            note = "  " + t.gettext(N_("(replaced)")) if info.replaced else ""
            click.echo(f"  {info.kind:20} {info.ref:45} {info.name}{note}")
    _say(N_("Structure store: {folder}"), err=True, folder=store.folder)


@structures.command("list")
@click.option(
    "--kind", help="Only this kind: codelist, conceptscheme, datastructure, dataflow, contentconstraint..."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_lang_option
def structures_list(kind: str | None, fmt: str, lang: str | None) -> None:
    """List the structures in the local store and the bundled codelists/ folder."""
    from cgd_bridge.i18n import N_

    t = _translator(lang)
    structures = _load_structures()
    infos = structures.artefacts(kind.lower() if kind else None)
    _warn_problems(structures)
    if fmt == "json":
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2, ensure_ascii=False))
        return
    if not infos:
        none = (
            t.gettext(N_("No structures of kind {kind}."), kind=kind)
            if kind
            else t.gettext(N_("No structures."))
        )
        click.echo(none + " " + t.gettext(N_("Add some with 'cgd-bridge structures import FILE|URL'.")))
        return
    head = tuple(t.gettext(h) for h in (N_("KIND"), N_("ARTEFACT"), N_("NAME"), N_("SOURCE")))
    rows = [(i.kind, i.ref, i.name, _short_source(i.source)) for i in infos]
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(3)]
    widths[2] = min(widths[2], 50)
    for row in [head, *rows]:
        name = row[2] if len(row[2]) <= 50 else row[2][:49] + "…"
        click.echo(f"{row[0]:{widths[0]}}  {row[1]:{widths[1]}}  {name:{widths[2]}}  {row[3]}".rstrip())


@structures.command("show")
@click.argument("artefact", nargs=-1, required=True, metavar="[KIND] ARTEFACT")
@click.option("--lang", default="en", show_default=True, help="Language of the names.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def structures_show(artefact: tuple[str, ...], lang: str, fmt: str) -> None:
    """Show one artefact: `show codelist CL_SEX` or `show IAEG-SDGs:CL_SEX(1.1)`.

    A codelist shows its codes and names, a DSD its dimensions, attributes and measures with
    their codelists, a dataflow its DSD.
    """
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import N_
    from cgd_bridge.sdmx.refs import parse_ref
    from cgd_bridge.structures import describe, kind_of_urn

    if len(artefact) > 2:
        raise UsageError(
            N_("give at most a kind and an artefact"), fix=N_("For example: show codelist IAEG-SDGs:CL_SEX.")
        )
    kind = artefact[0].lower() if len(artefact) == 2 else kind_of_urn(artefact[-1])
    agency, id_, version = parse_ref(artefact[-1])
    structures = _load_structures()
    info = structures.find(kind, id_, agency, version)
    _warn_problems(structures)
    data = {
        **describe(structures.get(info.kind, info.id, info.agency, info.version), lang),
        "source": info.source,
    }
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(_render_artefact(data))


def _render_artefact(data: dict[str, Any]) -> str:
    lines = [f"{data['kind']} {data['ref']}" + (f": {data['name']}" if data["name"] else ""),
             f"source: {data['source']}"]  # fmt: skip
    if "structure" in data:
        lines.append(f"structure: datastructure {data['structure']}")
    for section in ("dimensions", "attributes", "measures"):
        if section not in data:
            continue
        lines.append(f"{section.capitalize()} ({len(data[section])}):")
        for comp in data[section]:
            rep = f"codelist {comp['codelist']}" if comp["codelist"] else (comp["type"] or "")
            usage = f" [{comp['usage']}]" if comp["usage"] else ""
            lines.append(f"  {comp['id']:28} {rep:38}{usage}".rstrip())
    if "items" in data:
        items = data["items"]
        width = max((len(i["id"]) for i in items), default=0)
        lines.append(f"Items ({len(items)}):" if data["kind"] != "codelist" else f"Codes ({len(items)}):")
        for item in items:
            parent = f"  (in {item['parent']})" if item["parent"] else ""
            lines.append(f"  {item['id']:{width}}  {item['name']}{parent}".rstrip())
    return "\n".join(lines)


@cli.group("mapping")
def mapping_group() -> None:
    """Draft mappings from an export; export them as SDMX maps; import SDMX maps or open-sdg CSVs."""


@mapping_group.command("init")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--dataflow", required=True, help="The target dataflow, as AGENCY:ID(VERSION).")
@click.option("--form", type=click.Path(path_type=Path), help="The XLSForm of a Kobo/ODK export.")
@click.option("--sheet", help="The spreadsheet sheet to read (default: the first).")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="The mapping file to write (default: print it)."
)
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@click.option(
    "--learn-from",
    "learn_from",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="A folder of earlier mappings (and open-sdg column-map/code-map CSVs): the labels and "
    "columns they mapped are proposed first. Repeatable.",
)
@click.option("--no-bundled", is_flag=True, help="Do not learn from the bundled example mappings.")
@click.option(
    "--interactive",
    "-i",
    is_flag=True,
    help="Review each uncertain choice in the terminal (Enter accepts, a number or the arrows pick, "
    "typing searches the codes, s skips, q quits); the mapping is validated before it is written "
    "to --output.",
)
@_lang_option
def mapping_init(
    data: Path,
    dataflow: str,
    form: Path | None,
    sheet: str | None,
    output: Path | None,
    force: bool,
    learn_from: tuple[Path, ...],
    no_bundled: bool,
    interactive: bool,
    lang: str | None,
) -> None:
    """Draft a complete mapping of DATA to the target dataflow, every guess commented.

    Columns are matched to the DSD's dimensions by their names, their XLSForm labels and their
    values; labels to codes by the codelists' codes and names. Labels and columns that earlier
    mappings (--learn-from, and the bundled ones) mapped are proposed first, and the comment
    says which file. The guesses to confirm are listed here; check them in the file, then run
    'cgd-bridge validate DATA --mapping FILE'. With --interactive, they are asked here instead,
    and the answers validated before the file is written.
    """
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import N_
    from cgd_bridge.mapping.draft import draft_mapping
    from cgd_bridge.mapping.evidence import load_evidence
    from cgd_bridge.mapping.language import speaking

    t = _translator(lang)
    if output is not None and output.exists() and not force:
        raise UsageError(
            N_("'{output}' exists, and 'mapping init' does not replace it"),
            fix=N_("Give another -o file, or add --force to replace it."),
            params={"output": str(output)},
        )
    if interactive and output is None:
        raise UsageError(
            N_("--interactive writes the reviewed mapping to a file, and no --output was given"),
            fix=N_("Add -o mapping.yaml."),
        )
    if interactive and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            N_(
                "--interactive asks questions in a terminal, and the input "
                "is not one (a pipe, a file or a script)"
            )
            if not sys.stdin.isatty()
            else N_(
                "--interactive asks questions in a terminal, and the output "
                "is not one (a pipe, a file or a script)"
            ),
            fix=N_(
                "Run it in a terminal, or leave out --interactive: the draft is written with the "
                "uncertain choices marked CONFIRM, to check in the file."
            ),
        )
    evidence = load_evidence(list(learn_from), bundled=not no_bundled)
    for source, why in evidence.skipped:
        _say(N_("Note: {source} is not learnt from: {why}."), err=True, source=source, why=t.text(why))
    if learn_from:
        click.echo(
            t.ngettext(
                "Learning from {n} earlier mapping file.",
                "Learning from {n} earlier mapping files.",
                len(evidence.sources),
            ),
            err=True,
        )
    structures = _load_structures()
    if interactive and output is not None:
        from cgd_bridge.cli_review import run_review

        def redraft(decisions: Any) -> Any:
            return draft_mapping(data, dataflow=dataflow, structures=structures, form=form, sheet=sheet,
                                 evidence=evidence, decisions=decisions, t=t)  # fmt: skip

        with speaking(t):  # the review's own reasons (the answers it offers) in the language too
            code = run_review(
                redraft, data=data, form=form, sheet=sheet, structures=structures, output=output, t=t
            )
        _warn_problems(structures)
        raise SystemExit(code)
    drafted = draft_mapping(
        data, dataflow=dataflow, structures=structures, form=form, sheet=sheet, evidence=evidence, t=t
    )
    _warn_problems(structures)
    text = drafted.to_yaml()
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        _say(N_("Mapping drafted in {output}."), err=True, output=output)
    uncertain = drafted.uncertain()
    if uncertain:
        click.echo(
            t.ngettext(
                "{n} guess to confirm (marked CONFIRM in the file):",
                "{n} guesses to confirm (marked CONFIRM in the file):",
                len(uncertain),
            ),
            err=True,
        )
        for guess in uncertain:
            click.echo(f"  - {guess.line(t)}", err=True)
    else:
        _say(N_("Every guess is at least 80 % sure; still read the comments before you use it."), err=True)


@mapping_group.command("export")
@click.argument("mapping_file", type=click.Path(path_type=Path), metavar="MAPPING")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="The file to write (default: print it)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["sdmx-ml-3.0", "sdmx-json-2.0", "sdmx-ml-2.1"]),
    default="sdmx-ml-3.0",
    show_default=True,
    help="SDMX-ML 3.0 or SDMX-JSON 2.0 structure message (StructureMap), or SDMX-ML 2.1 (StructureSet "
    "with CodelistMaps, for SDMX 2.1 registries).",
)
@click.option(
    "--agency",
    default="CGD_BRIDGE",
    show_default=True,
    help="Agency ID of the CSO-side artefacts (use the one the NSO's registry gave your organisation).",
)
@_lang_option
def mapping_export(mapping_file: Path, output: Path | None, fmt: str, agency: str, lang: str | None) -> None:
    """Write MAPPING as SDMX maps for an NSO's registry.

    SDMX 3.0: a StructureMap with RepresentationMaps; SDMX 2.1 (--format sdmx-ml-2.1): a
    StructureSet with CodelistMaps and a StructureMap, and the codelists of the CSO's labels.
    """
    from cgd_bridge.i18n import N_
    from cgd_bridge.mapping import load_mapping
    from cgd_bridge.sdmx.write import export_structure_map

    t = _translator(lang)
    loaded, info = load_mapping(mapping_file)
    structures = _load_structures()
    exported = export_structure_map(loaded, structures=structures, agency=agency, fmt=fmt, name=info.file)
    _warn_problems(structures)
    for warning in exported.warnings:
        _say(N_("Note: {message}"), err=True, message=_message_in(warning, t))
    if output is None:
        click.echo(exported.text, nl=False)
        return
    write_atomic(output, exported.text)
    what = "StructureSet" if fmt == "sdmx-ml-2.1" else "StructureMap"
    _say(N_("{what} of {file} written to {output} ({format})."), err=True, what=what, file=info.file,
         output=output, format=fmt)  # fmt: skip


@mapping_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE...")
@click.option("--dataflow", required=True, help="The target dataflow, as AGENCY:ID(VERSION).")
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="MAP=COMPONENT[:COLUMN]",
    help="For an SDMX code map that names no component (2.1 CodelistMap): the component it gives "
    "and the data column it reads, e.g. REF_AREA_TO_ISO3=REF_AREA:country. Repeatable.",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="The mapping file to write (default: print it)."
)
@_lang_option
def mapping_import(
    files: tuple[Path, ...], dataflow: str, links: tuple[str, ...], output: Path | None, lang: str | None
) -> None:
    """Build a cgd-mapping/1.0 file from SDMX maps or open-sdg column-map/code-map CSVs.

    FILE... are SDMX structure messages (SDMX-ML 3.0 or SDMX-JSON 2.0 StructureMaps and
    RepresentationMaps, SDMX-ML 2.1 StructureSets with CodelistMaps), or open-sdg sdg-build CSVs:
    the column map, the code map and, optionally, one indicator CSV they apply to.
    """
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import N_
    from cgd_bridge.sdmx.read import import_mapping

    t = _translator(lang)
    parsed: dict[str, tuple[str, str | None]] = {}
    for link in links:
        key, _, target = link.partition("=")
        component, _, column = target.partition(":")
        if not key or not component:
            raise UsageError(
                N_("--link '{link}' is not MAP=COMPONENT[:COLUMN]"),
                fix=N_("For example: --link REF_AREA_TO_ISO3=REF_AREA:country."),
                params={"link": link},
            )
        parsed[key] = (component, column or None)
    structures = _load_structures()
    imported = import_mapping(files, dataflow=dataflow, structures=structures, links=parsed)
    _warn_problems(structures)
    for warning in imported.warnings:
        _say(N_("Warning: {message}"), err=True, message=_message_in(warning, t))
    text = imported.to_yaml()
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text)
    m = imported.mapping
    parts = [
        t.ngettext("{n} dimension", "{n} dimensions", len(m.dimensions)),
        t.ngettext("{n} attribute", "{n} attributes", len(m.attributes)),
    ]
    parts += [t.gettext(N_("time"))] if m.time else []
    parts += [t.gettext(N_("value"))] if m.value else []
    _say(
        N_("Mapping written to {output}: {parts}; {warnings} (also written at the top of the file)."),
        err=True,
        output=output,
        parts=", ".join(parts),
        warnings=t.ngettext("{n} warning", "{n} warnings", len(imported.warnings)),
    )


# ---------------------------------------------------------------- the server's database (#4)

_database_url_option = click.option(
    "--database-url",
    metavar="URL",
    help="The server's database (default: $CGD_BRIDGE_DATABASE_URL, else cgd-bridge.sqlite in the "
    "data folder).",
)


def _database_url(url: str | None) -> str:
    """``--database-url``, else the settings (``CGD_BRIDGE_DATABASE_URL``, else SQLite in the data folder)."""
    from cgd_bridge.settings import get_settings
    from cgd_bridge.store.db import database_url, normalise_url

    if url:
        return normalise_url(url)
    settings = get_settings()
    if _State.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": _State.data_dir})
    return database_url(settings)


@contextlib.contextmanager
def _store(url: str | None) -> Iterator[Any]:
    """A session on the migrated database; database failures become one plain sentence."""
    from sqlalchemy.exc import DBAPIError

    from cgd_bridge.errors import StoreError
    from cgd_bridge.i18n import N_
    from cgd_bridge.store.db import check_current, make_engine, make_sessionmaker, redact

    engine = make_engine(_database_url(url))
    try:
        check_current(engine)
        with make_sessionmaker(engine)() as session:
            yield session
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise StoreError(
            N_("the database {url} refused the operation: {reason}"),
            fix=N_("Check that it is running and migrated (cgd-bridge db upgrade)."),
            params={"url": redact(str(engine.url)), "reason": reason},
        ) from exc
    finally:
        engine.dispose()


def _until(value: Any) -> Any:
    """A date given on the command line, in UTC; a plain date means "through that day"."""
    import datetime as dt

    if value is None:
        return None
    when = value.replace(tzinfo=dt.UTC)
    return when + dt.timedelta(days=1) if when.time() == dt.time(0) else when


_DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...], empty: str, **values: Any) -> str:
    """An admin list in the command's language: the headings (message ids) translated, the
    columns lined up by the width a terminal gives each text (a Devanagari or Bengali vowel sign
    takes none); ``empty`` (a message id, formatted with ``values``) is the sentence said instead
    of a table of headings alone."""
    t = _t()
    if not rows:
        return str(t.gettext(empty, **values))
    head = tuple(t.gettext(h) for h in header)
    cells = [tuple("" if c is None else str(c) for c in row) for row in [head, *rows]]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _width(text: str) -> int:
    """The columns ``text`` takes in a terminal: none for a combining mark or a format
    character, two for a wide (East Asian) character, one for any other."""
    import unicodedata

    return sum(
        0
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in ("W", "F")
        else 1
        for c in text
    )


def _when(value: Any) -> str:
    """A stored moment (UTC) as the command's language writes dates and times; "-" for none."""
    return str(_t().date(value)) if value is not None else "-"


def _yes(value: object) -> str:
    """Yes or no in the command's language."""
    return str(_t().gettext(N_("yes") if value else N_("no")))


@cli.group()
def db() -> None:
    """The bridge server's database: migrate it (SQLite by default, PostgreSQL by URL)."""


@db.command("upgrade")
@_database_url_option
def db_upgrade(database_url: str | None) -> None:
    """Create or migrate the database to the newest schema (safe to run again)."""
    from cgd_bridge.store.db import redact, upgrade

    url = _database_url(database_url)
    revision = upgrade(url)
    _say(N_("The database {url} is at revision {revision} (the newest)."), url=redact(url), revision=revision)


@db.command("current")
@_database_url_option
def db_current(database_url: str | None) -> None:
    """Show the database's schema revision; exit 1 when it needs `cgd-bridge db upgrade`."""
    from cgd_bridge.store.db import current, head, redact

    url = _database_url(database_url)
    found, newest = current(url), head()
    if found:
        _say(
            N_("{url}: revision {revision}; the newest is {newest}."),
            url=redact(url),
            revision=found,
            newest=newest,
        )
    else:
        _say(N_("{url}: no revision (empty); the newest is {newest}."), url=redact(url), newest=newest)
    if found != newest:
        _say(N_("Run `cgd-bridge db upgrade` to migrate it."), err=True)
        sys.exit(EXIT_INVALID)


def _data_dir() -> Path:
    """``--data-dir``, else the settings (``CGD_BRIDGE_DATA_DIR``)."""
    from cgd_bridge.settings import get_settings

    return _State.data_dir if _State.data_dir is not None else get_settings().data_dir


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_database_url_option
def db_backup(path: Path, database_url: str | None) -> None:
    """Write the database and the structures folder to PATH, a tar bundle (.tar, or .tar.gz to
    compress it), while the server keeps serving (docs/deploy.md#backups)."""
    from cgd_bridge.store.backup import backup
    from cgd_bridge.store.db import redact

    url = _database_url(database_url)
    manifest = backup(url, _data_dir(), path)
    structures = sum(1 for name in manifest.files if name.startswith("structures/"))
    size = sum(int(f["size"]) for f in manifest.files.values())
    t = _t()
    click.echo(
        t.ngettext(
            "Backed up {url} (revision {revision}) and {n} structure file to {path} "
            "({mib} MiB before packing).",
            "Backed up {url} (revision {revision}) and {n} structure files to {path} "
            "({mib} MiB before packing).",
            structures,
            url=redact(url),
            revision=manifest.revision,
            path=path,
            mib=t.number(round(size / 2**20, 1)),
        )
    )


@db.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_database_url_option
@click.option("--force", is_flag=True, help="Replace a database and structures folder that are not empty.")
def db_restore(path: Path, database_url: str | None, force: bool) -> None:
    """Restore a bundle written by `db backup` into the database and the data folder: all of it
    or nothing; refuses a non-empty database unless --force. Stop the server first."""
    from cgd_bridge.store.backup import restore
    from cgd_bridge.store.db import redact

    url = _database_url(database_url)
    done = restore(url, _data_dir(), path, force=force)
    m = done.manifest
    _say(
        N_(
            "Restored {path} (made {created} by cgd-bridge {version}, revision {revision}) "
            "into {url} and {folder}."
        ),
        path=path, created=m.created, version=m.bridge_version, revision=m.revision, url=redact(url),
        folder=_data_dir() / "structures",
    )  # fmt: skip
    if done.migrated_to:
        _say(N_("The database was migrated to revision {revision} (the newest)."), revision=done.migrated_to)


@cli.group()
def admin() -> None:
    """Organisations, users, API keys and MoUs of the bridge server (run where the database is)."""


@admin.group("org")
def admin_org() -> None:
    """CSO and NSO organisations."""


@admin_org.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The organisation's full name.")
@click.option("--kind", type=click.Choice(["cso", "nso", "admin"]), required=True, help="CSO, NSO or admin.")
@_database_url_option
def admin_org_create(slug: str, name: str, kind: str, database_url: str | None) -> None:
    """Create the organisation SLUG (e.g. sauti-ya-walemavu)."""
    from cgd_bridge.store.orgs import create_organisation

    with _store(database_url) as session:
        org = create_organisation(session, slug=slug, name=name, kind=kind)
        _say(N_("Created the {kind} '{slug}' ({name})."), kind=org.kind.upper(), slug=org.slug, name=org.name)


@admin_org.command("list")
@_database_url_option
def admin_org_list(database_url: str | None) -> None:
    """List the organisations."""
    from cgd_bridge.store.orgs import list_organisations

    with _store(database_url) as session:
        rows = [(o.slug, o.kind, o.name, _when(o.created_at)) for o in list_organisations(session)]
        click.echo(
            _table(
                rows,
                (N_("SLUG"), N_("KIND"), N_("NAME"), N_("CREATED")),
                N_("No organisations yet: create one with `cgd-bridge admin org create`."),
            )
        )


@admin.group("user")
def admin_user() -> None:
    """People (and systems) acting for an organisation."""


@admin_user.command("create")
@click.argument("username")
@click.option("--org", "organisation", required=True, help="The organisation's slug.")
@click.option(
    "--role",
    type=click.Choice(["submitter", "reviewer", "admin"]),
    required=True,
    help="submitter (CSO), reviewer (NSO) or admin.",
)
@click.option("--name", "display_name", default="", help="The person's name, as lists show it.")
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input (else keys only).")
@click.option(
    "--email",
    default=None,
    help="The person's e-mail address: they may sign in with the identity provider once it verified it.",
)
@_database_url_option
def admin_user_create(
    username: str,
    organisation: str,
    role: str,
    display_name: str,
    password_stdin: bool,
    email: str | None,
    database_url: str | None,
) -> None:
    """Create the user USERNAME of an organisation."""
    from cgd_bridge.store.orgs import create_user

    password = sys.stdin.read().rstrip("\r\n") if password_stdin else None
    with _store(database_url) as session:
        user = create_user(session, username=username, organisation=organisation, role=role,
                           display_name=display_name, password=password, email=email)  # fmt: skip
        _say(N_("Created the {role} '{user}' of '{organisation}'."), role=user.role, user=user.username,
             organisation=organisation)  # fmt: skip


@admin_user.command("list")
@click.option("--org", "organisation", help="Only this organisation's users.")
@_database_url_option
def admin_user_list(organisation: str | None, database_url: str | None) -> None:
    """List the users."""
    from cgd_bridge.store.orgs import list_users

    with _store(database_url) as session:
        rows = [
            (u.username, u.organisation.slug, u.role, _yes(u.active), _yes(u.password_hash), u.display_name)
            for u in list_users(session, organisation=organisation)
        ]
        click.echo(
            _table(
                rows,
                (N_("USERNAME"), N_("ORG"), N_("ROLE"), N_("ACTIVE"), N_("PASSWORD"), N_("NAME")),
                N_("No users yet: create one with `cgd-bridge admin user create`."),
            )
        )


@admin.group("key")
def admin_key() -> None:
    """API keys (shown once at creation, stored hashed)."""


@admin_key.command("create")
@click.argument("username")
@click.option("--label", default="", help="What the key is for, e.g. 'laptop' or 'KNBS ETL'.")
@click.option("--expires", type=_DATE, help="Last day the key works (UTC), e.g. 2027-12-31.")
@_database_url_option
def admin_key_create(username: str, label: str, expires: Any, database_url: str | None) -> None:
    """Create an API key for USERNAME and print it (the only time it is shown)."""
    from cgd_bridge.store.orgs import create_key

    with _store(database_url) as session:
        new = create_key(session, username=username, label=label, expires_at=_until(expires))
    click.echo(new.key)
    _say(
        N_(
            "This is the only time key {prefix} is shown: store it now (only its hash is kept). "
            "Revoke it with {command}."
        ),
        err=True,
        prefix=new.prefix,
        command=f"`cgd-bridge admin key revoke {new.prefix}`",
    )


@admin_key.command("list")
@click.option("--user", "username", help="Only this user's keys.")
@_database_url_option
def admin_key_list(username: str | None, database_url: str | None) -> None:
    """List API keys by prefix (never their secrets)."""
    from cgd_bridge.store.orgs import list_keys

    with _store(database_url) as session:
        rows = [
            (k.prefix, k.user.username, k.label, _when(k.created_at), _when(k.last_used_at),
             _when(k.expires_at), _when(k.revoked_at))
            for k in list_keys(session, username=username)
        ]  # fmt: skip
        head = (N_("PREFIX"), N_("USER"), N_("LABEL"), N_("CREATED"), N_("LAST USED"), N_("EXPIRES"),
                N_("REVOKED"))  # fmt: skip
        click.echo(_table(rows, head, N_("No API keys yet: create one with `cgd-bridge admin key create`.")))


@admin_key.command("revoke")
@click.argument("prefix")
@_database_url_option
def admin_key_revoke(prefix: str, database_url: str | None) -> None:
    """Revoke the API key with this PREFIX (as `admin key list` shows it)."""
    from cgd_bridge.store.orgs import revoke_key

    with _store(database_url) as session:
        key = revoke_key(session, prefix=prefix)
        _say(
            N_("Key {prefix} of '{user}' is revoked (since {when} UTC)."),
            prefix=key.prefix,
            user=key.user.username,
            when=_when(key.revoked_at),
        )


@admin.group("mou")
def admin_mou() -> None:
    """MoUs: which NSO may read which CSO dataflows, under which conditions, until when."""


@admin_mou.command("create")
@click.option("--cso", required=True, help="The CSO's slug.")
@click.option("--nso", required=True, help="The NSO's slug.")
@click.option(
    "--dataflow",
    "dataflows",
    multiple=True,
    required=True,
    metavar="REF",
    help="AGENCY:ID(VERSION), AGENCY:ID (any version) or '*' (all); repeat for several.",
)
@click.option(
    "--until", type=_DATE, required=True, help="Last day the MoU is in force (UTC), e.g. 2027-12-31."
)
@click.option("--from", "valid_from", type=_DATE, help="First day it is in force (default: now).")
@click.option("--condition", "conditions", multiple=True, help="A use condition; repeat for several.")
@click.option(
    "--raw-files/--no-raw-files",
    default=False,
    show_default=True,
    help="The NSO may download the files the CSO uploaded (never microdata).",
)
@_database_url_option
def admin_mou_create(
    cso: str, nso: str, dataflows: tuple[str, ...], until: Any, valid_from: Any, conditions: tuple[str, ...],
    raw_files: bool, database_url: str | None,
) -> None:  # fmt: skip
    """Record an MoU between a CSO and an NSO."""
    import datetime as dt

    from cgd_bridge.store.mous import create_mou

    start = valid_from.replace(tzinfo=dt.UTC) if valid_from is not None else None
    with _store(database_url) as session:
        mou = create_mou(session, cso=cso, nso=nso, dataflows=list(dataflows), valid_until=_until(until),
                         valid_from=start, use_conditions=conditions, raw_files=raw_files)  # fmt: skip
        _say(
            N_("MoU {id}: '{nso}' may read {dataflows} of '{cso}' until {until} UTC; {raw_files}"),
            id=mou.id,
            nso=nso,
            dataflows=", ".join(mou.dataflows),
            cso=cso,
            until=_when(mou.valid_until),
            raw_files=_raw_files_words(mou.raw_files, nso=nso),
        )


def _raw_files_words(granted: bool, *, nso: str) -> str:
    """The MoU's raw-files term in plain words, in the command's language."""
    if granted:
        return str(
            _t().gettext(
                N_("'{nso}' may download the files the CSO uploaded (never those of microdata)."), nso=nso
            )
        )
    return str(
        _t().gettext(
            N_("'{nso}' may not download the files the CSO uploaded (--raw-files grants it)."), nso=nso
        )
    )


@admin_mou.command("list")
@click.option("--org", "organisation", help="Only the MoUs this organisation is party to.")
@_database_url_option
def admin_mou_list(organisation: str | None, database_url: str | None) -> None:
    """List the MoUs."""
    from cgd_bridge.store.models import utcnow
    from cgd_bridge.store.mous import is_valid, list_mous

    now, t = utcnow(), _t()
    with _store(database_url) as session:
        rows = [
            (m.id, m.cso.slug, m.nso.slug, " ".join(m.dataflows), _when(m.valid_from), _when(m.valid_until),
             t.gettext(N_("revoked") if m.revoked_at else N_("in force") if is_valid(m, now)
                       else N_("not in force")),
             _yes(m.raw_files), "; ".join(m.use_conditions))
            for m in list_mous(session, organisation=organisation)
        ]  # fmt: skip
        head = (N_("ID"), N_("CSO"), N_("NSO"), N_("DATAFLOWS"), N_("FROM"), N_("UNTIL"), N_("STATUS"),
                N_("RAW FILES"), N_("CONDITIONS"))  # fmt: skip
        click.echo(_table(rows, head, N_("No MoUs yet: record one with `cgd-bridge admin mou create`.")))


@admin_mou.command("revoke")
@click.argument("mou_id", type=int, metavar="ID")
@_database_url_option
def admin_mou_revoke(mou_id: int, database_url: str | None) -> None:
    """End the MoU ID now."""
    from cgd_bridge.store.mous import revoke_mou

    with _store(database_url) as session:
        mou = revoke_mou(session, mou_id=mou_id)
        _say(
            N_("MoU {id} ('{nso}' reading '{cso}') is revoked."),
            id=mou.id,
            nso=mou.nso.slug,
            cso=mou.cso.slug,
        )


@admin.group("version")
def admin_version() -> None:
    """Review submitted versions: see what they overlap, accept and publish them (#13)."""


def _print_overlap(found: Any) -> None:
    """The keys and periods a version shares with published data, in the command's language."""
    t = _t()
    if not found:
        _say(
            N_("Version {id} overlaps nothing published in {dataflow}."),
            id=found.version_id,
            dataflow=found.dataflow,
        )
        return
    click.echo(
        t.ngettext(
            "Version {id} shares {n} series key and period with what {dataflow} publishes (key: {key}):",
            "Version {id} shares {n} series keys and periods with what {dataflow} publishes (key: {key}):",
            found.count,
            id=found.version_id,
            dataflow=found.dataflow,
            key=".".join(found.key),
        )
    )
    for sh in found.shared:
        said = t.ngettext(
            "{n} with version {number} (id {id}) of '{dataset}' by {producer}, e.g.",
            "{n} with version {number} (id {id}) of '{dataset}' by {producer}, e.g.",
            sh.count,
            number=sh.number,
            id=sh.version_id,
            dataset=sh.dataset,
            producer=sh.producer,
        )
        click.echo(f"  {said}")
        for e in sh.examples:
            click.echo(f"    {e['key']} {e['period']}")


def _reviewer(session: Any, username: str) -> Any:
    from cgd_bridge.store.orgs import Principal, get_user

    return Principal.of(get_user(session, username=username))


@contextlib.contextmanager
def _showing_overlap(session: Any, version_id: int) -> Iterator[None]:
    """Print the keys version ID shares with published data when a decision on it is refused as
    overlapping (``Overlapping``), before the refusal goes on to the CLI's error handler."""
    from cgd_bridge.errors import Overlapping
    from cgd_bridge.store import ownership
    from cgd_bridge.store.models import Version

    try:
        yield
    except Overlapping:
        version = session.get(Version, version_id)
        if version is not None:
            _print_overlap(ownership.overlap(session, version))
        raise


_AS_OPTION = click.option(
    "--as", "username", required=True, metavar="USER", help="The NSO reviewer (or admin user) deciding."
)
_REPLACE_OPTION = click.option(
    "--replace",
    is_flag=True,
    default=None,
    help="The version takes over the observations it shares with other submissions' published "
    "versions (they stay in history and lineage). Without it an overlapping version is refused.",
)


@admin_version.command("overlap")
@click.argument("version_id", type=int, metavar="ID")
@_database_url_option
def admin_version_overlap(version_id: int, database_url: str | None) -> None:
    """Show the series keys and periods version ID shares with published data (exit 1 if any)."""
    from cgd_bridge.errors import NotFound
    from cgd_bridge.i18n import N_
    from cgd_bridge.store import ownership
    from cgd_bridge.store.models import Version

    with _store(database_url) as session:  # the local admin CLI: whoever can open the database
        v = session.get(Version, version_id)
        if v is None:
            raise NotFound(
                N_("there is no version {id}"),
                fix=N_("See the review inbox for version ids."),
                params={"id": version_id},
            )
        found = ownership.overlap(session, v)
        _print_overlap(found)
    if found:
        sys.exit(EXIT_INVALID)


@admin_version.command("accept")
@click.argument("version_id", type=int, metavar="ID")
@_AS_OPTION
@click.option("--comment", help="A comment for the CSO.")
@_REPLACE_OPTION
@_database_url_option
def admin_version_accept(
    version_id: int, username: str, comment: str | None, replace: bool | None, database_url: str | None
) -> None:
    """Accept version ID as the reviewer USER (refused when it overlaps, unless --replace)."""
    from cgd_bridge.store import submissions

    with _store(database_url) as session, _showing_overlap(session, version_id):
        v = submissions.accept(
            session, principal=_reviewer(session, username), version_id=version_id, comment=comment,
            replace=bool(replace),
        )  # fmt: skip
        _say(
            N_("Version {n} of '{dataset}' (id {id}) is accepted."),
            n=v.number,
            dataset=v.submission.dataset,
            id=v.id,
        )


@admin_version.command("publish")
@click.argument("version_id", type=int, metavar="ID")
@_AS_OPTION
@_REPLACE_OPTION
@_database_url_option
def admin_version_publish(
    version_id: int, username: str, replace: bool | None, database_url: str | None
) -> None:
    """Publish version ID as the reviewer USER (a --replace chosen at acceptance still holds)."""
    from cgd_bridge.store import submissions

    with _store(database_url) as session, _showing_overlap(session, version_id):
        v = submissions.publish(
            session, principal=_reviewer(session, username), version_id=version_id, replace=replace
        )
        _say(
            N_("Version {n} of '{dataset}' (id {id}) is published."),
            n=v.number,
            dataset=v.submission.dataset,
            id=v.id,
        )


@admin.group("official")
def admin_official() -> None:
    """Official series: an NSO's reference data for a dataflow, drawn beside the CGD series."""


@admin_official.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--nso", required=True, help="The NSO's slug, e.g. knbs.")
@click.option(
    "--dataflow", required=True, metavar="REF", help="AGENCY:ID(VERSION), e.g. CGD_BRIDGE:DF_CGD_KE(1.0)."
)
@click.option(
    "--label", help="The source as chart legends show it (default: the file name), e.g. 'KNBS KDHS 2022'."
)
@click.option("--note", help="A longer source note.")
@click.option(
    "--public", is_flag=True, help="Everyone may see it (default: the NSO's people and admins only)."
)
@_database_url_option
def admin_official_load(
    file: Path, nso: str, dataflow: str, label: str | None, note: str | None, public: bool,
    database_url: str | None,
) -> None:  # fmt: skip
    """Load FILE (SDMX-CSV 1.0/2.0 or SDMX-ML 2.1 data) as an official series of the NSO."""
    from functools import partial

    from cgd_bridge.sdmx.read.data import read_official
    from cgd_bridge.store.official import load_official_file

    structures = _load_structures()
    with _store(database_url) as session:
        series = load_official_file(
            session, principal=None, nso=nso, dataflow=dataflow, label=label or file.stem, filename=file.name,
            content=file.read_bytes(), read=partial(read_official, structures=structures), note=note,
            public=public, local=True,
        )  # fmt: skip
        t = _t()
        click.echo(
            t.ngettext(
                "Official series {id} '{label}' of '{nso}': {n} observation of {dataflow} ({format}, "
                "{start}-{end}), {seen}",
                "Official series {id} '{label}' of '{nso}': {n} observations of {dataflow} ({format}, "
                "{start}-{end}), {seen}",
                series.observations,
                id=series.id, label=series.label, nso=nso, dataflow=series.dataflow_ref, format=series.format,
                start=series.time_min, end=series.time_max,
                seen=t.gettext(N_("public.") if series.is_public else N_("seen by the NSO and admins only.")),
            )
        )  # fmt: skip


@admin_official.command("list")
@click.option("--nso", help="Only this NSO's.")
@_database_url_option
def admin_official_list(nso: str | None, database_url: str | None) -> None:
    """List the official series."""
    from cgd_bridge.store.official import list_official

    t = _t()
    with _store(database_url) as session:
        rows = [
            (s.id, s.nso.slug, s.dataflow_ref, s.label, t.number(s.observations),
             t.gettext(N_("public") if s.is_public else N_("private")), _when(s.loaded_at),
             s.loaded_by.username if s.loaded_by else t.gettext(N_("(command line)")), s.sha256[:12])
            for s in list_official(session, principal=None, nso=nso, local=True)
        ]  # fmt: skip
        head = (N_("ID"), N_("NSO"), N_("DATAFLOW"), N_("LABEL"), N_("OBS"), N_("SEEN BY"), N_("LOADED"),
                N_("BY"), N_("SHA-256"))  # fmt: skip
        click.echo(
            _table(rows, head, N_("No official series yet: load one with `cgd-bridge admin official load`."))
        )


@admin_official.command("delete")
@click.argument("series_id", type=int, metavar="ID")
@_database_url_option
def admin_official_delete(series_id: int, database_url: str | None) -> None:
    """Delete the official series ID."""
    from cgd_bridge.store.official import delete_official

    with _store(database_url) as session:
        series = delete_official(session, principal=None, series_id=series_id, local=True)
        _say(N_("Official series {id} '{label}' is deleted."), id=series_id, label=series.label)


@admin.group("webhook")
def admin_webhook() -> None:
    """Organisations' webhooks (signed event deliveries) and their delivery log (#19)."""


def _url_checker() -> Any:
    from cgd_bridge.server.notify import check_url
    from cgd_bridge.settings import get_settings

    allow = get_settings().webhook_allow_private
    return lambda url: check_url(url, allow_private=allow)


@admin_webhook.command("create")
@click.argument("organisation")
@click.option("--url", required=True, help="The receiver, e.g. https://etl.knbs.example/cgd-bridge.")
@click.option(
    "--event",
    "events",
    multiple=True,
    default=("*",),
    show_default=True,
    help="An event to deliver (repeat it): version.submitted, version.accepted, version.rejected, "
    "version.published, version.withdrawn, or * for all.",
)
@click.option("--description", default="", help="What the endpoint is, as lists show it.")
@_database_url_option
def admin_webhook_create(
    organisation: str, url: str, events: tuple[str, ...], description: str, database_url: str | None
) -> None:
    """Register a webhook of ORGANISATION and print its secret (the only time it is shown)."""
    from cgd_bridge.store.outbox import create_webhook

    with _store(database_url) as session:
        new = create_webhook(session, organisation=organisation, url=url, events=events,
                             description=description, check_url=_url_checker())  # fmt: skip
    click.echo(new.secret)
    _say(
        N_(
            "Webhook {id} of '{organisation}' delivers {events} to {url}. This is the only time its "
            "secret is shown: give it to the receiver now (it verifies the X-CGD-Bridge-Signature "
            "header with it)."
        ),
        err=True,
        id=new.webhook.id,
        organisation=organisation,
        events=", ".join(new.webhook.events),
        url=new.webhook.url,
    )


@admin_webhook.command("list")
@click.argument("organisation")
@_database_url_option
def admin_webhook_list(organisation: str, database_url: str | None) -> None:
    """List the webhooks of ORGANISATION (never their secrets)."""
    from cgd_bridge.store.outbox import list_webhooks

    with _store(database_url) as session:
        rows = [(h.id, h.url, ",".join(h.events), _when(h.created_at), h.description)
                for h in list_webhooks(session, organisation=organisation)]  # fmt: skip
    click.echo(
        _table(
            rows,
            (N_("ID"), N_("URL"), N_("EVENTS"), N_("CREATED"), N_("DESCRIPTION")),
            N_("'{organisation}' has no webhooks: register one with `cgd-bridge admin webhook create`."),
            organisation=organisation,
        )
    )


@admin_webhook.command("remove")
@click.argument("organisation")
@click.argument("webhook_id", type=int)
@_database_url_option
def admin_webhook_remove(organisation: str, webhook_id: int, database_url: str | None) -> None:
    """Remove webhook WEBHOOK_ID of ORGANISATION (its pending deliveries are given up)."""
    from cgd_bridge.store.outbox import revoke_webhook

    with _store(database_url) as session:
        revoke_webhook(session, organisation=organisation, webhook_id=webhook_id)
    _say(N_("Webhook {id} of '{organisation}' is removed."), id=webhook_id, organisation=organisation)


@admin_webhook.command("deliveries")
@click.argument("organisation")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@_database_url_option
def admin_webhook_deliveries(organisation: str, limit: int, database_url: str | None) -> None:
    """The delivery log of ORGANISATION: webhooks and e-mails, newest first."""
    from cgd_bridge.store.models import Delivery
    from cgd_bridge.store.outbox import deliveries, delivery_view

    t = _t()
    with _store(database_url) as session:
        items = deliveries(session, organisation=organisation, limit=limit)
        rows = [(i.created_at, delivery_view(i)) for i in items]
    states = {
        Delivery.PENDING: N_("pending"),
        Delivery.DELIVERED: N_("delivered"),
        Delivery.FAILED: N_("failed"),
    }
    click.echo(
        _table(
            [
                (
                    _when(created),
                    d["event"],
                    d["url"] or d["recipient"],
                    t.gettext(states[d["state"]]) if d["state"] in states else d["state"],
                    t.number(d["attempts"]),
                    d["last_error"] or "",
                )
                for created, d in rows
            ],
            (N_("CREATED"), N_("EVENT"), N_("TO"), N_("STATE"), N_("ATTEMPTS"), N_("LAST ERROR")),
            N_("Nothing was sent for '{organisation}' yet."),
            organisation=organisation,
        )
    )


@admin_user.command("contact")
@click.argument("username")
@click.option("--email", help="Where the user's notifications go ('' clears it).")
@click.option("--language", help="The e-mails' language, e.g. sw, bn, ne, en.")
@_database_url_option
def admin_user_contact(
    username: str, email: str | None, language: str | None, database_url: str | None
) -> None:
    """Set USERNAME's e-mail address and language for notifications."""
    from cgd_bridge.store.outbox import set_contact

    with _store(database_url) as session:
        user = set_contact(session, username=username, email=email, language=language)
        if user.email:
            _say(N_("'{user}' gets e-mail at {email} in {lang}."), user=user.username, email=user.email,
                 lang=user.language or "en")  # fmt: skip
        else:
            _say(N_("'{user}' has no e-mail address (notifications in {lang})."), user=user.username,
                 lang=user.language or "en")  # fmt: skip


@admin_org.command("digest")
@click.argument("slug")
@click.option("--on/--off", default=True, help="Send (or stop) the daily e-mail of who pulled its data.")
@_database_url_option
def admin_org_digest(slug: str, on: bool, database_url: str | None) -> None:
    """Opt the CSO SLUG in to (or out of) the e-mail digest of its MoU partners' pulls."""
    from cgd_bridge.store.outbox import set_pull_digest

    with _store(database_url) as session:
        set_pull_digest(session, organisation=slug, on=on)
    if on:
        _say(N_("'{slug}' gets the digest of who pulled its data."), slug=slug)
    else:
        _say(N_("'{slug}' no longer gets the digest of who pulled its data."), slug=slug)


@cli.group()
def notify() -> None:
    """Deliver notifications (webhooks, e-mail) from the outbox, e.g. from cron (#19)."""


@notify.command("run")
@click.option("--loop", is_flag=True, help="Keep delivering (every CGD_BRIDGE_NOTIFY_INTERVAL_SECONDS).")
@click.option(
    "--timeout", default=60.0, show_default=True, help="Without --loop: stop after this many seconds."
)
@_database_url_option
def notify_run(loop: bool, timeout: float, database_url: str | None) -> None:
    """Deliver what is due now (retries that wait for their time are left for the next run).

    Safe beside running servers and other `notify run`s: each delivery is claimed by one worker.
    """
    import time

    from cgd_bridge.server.notify import Notifier
    from cgd_bridge.settings import get_settings
    from cgd_bridge.store.db import check_current, make_engine, make_sessionmaker
    from cgd_bridge.structures import Structures

    settings = get_settings()
    if _State.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": _State.data_dir})
    engine = make_engine(_database_url(database_url))
    try:
        check_current(engine)
        notifier = Notifier(
            make_sessionmaker(engine), settings, structures=Structures.load(settings.structures_dir)
        )
        while True:
            counts = notifier.run_until_idle(timeout)
            if counts.attempted or counts.digests or not loop:
                t = _t()
                click.echo(
                    t.ngettext(
                        "Delivered {delivered}, to retry {retrying}, failed {failed}; "
                        "{n} digest e-mail written.",
                        "Delivered {delivered}, to retry {retrying}, failed {failed}; "
                        "{n} digest e-mails written.",
                        counts.digests,
                        delivered=t.number(counts.delivered),
                        retrying=t.number(counts.retrying),
                        failed=t.number(counts.failed),
                    )
                )
                for error in counts.errors:
                    click.echo(f"  {error}", err=True)
            if not loop:
                break
            time.sleep(settings.notify_interval_seconds)
    finally:
        engine.dispose()


def write_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temporary file, so a failure leaves no partial file."""
    from cgd_bridge.atomic import write_bytes_atomic

    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; otherwise nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr, show_pos=False) as bar:
        state = {"done": 0}

        def update(done: int, estimate: int | None) -> None:
            if estimate:
                bar.length = max(estimate, done)
            bar.update(done - state["done"])
            state["done"] = done

        yield update


# -- the bridge server ---------------------------------------------------------------------------


def _settings() -> Any:
    """The settings, with ``--data-dir`` applied."""
    from cgd_bridge.settings import get_settings

    settings = get_settings()
    if _State.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": _State.data_dir})
    return settings


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, type=int, show_default=True, help="Port to listen on.")
@click.option(
    "--database-url",
    help="SQLAlchemy URL of the database (default: $CGD_BRIDGE_DATABASE_URL, else an SQLite file "
    "in the data folder), e.g. postgresql+psycopg://user@host/cgd_bridge.",
)
@click.option("--workers", default=1, type=int, show_default=True, help="Worker processes.")
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=None,
    help="Take the client's address and scheme from X-Forwarded-For/-Proto, sent by the proxies of "
    "--forwarded-allow-ips only (default: $CGD_BRIDGE_PROXY_HEADERS, else off).",
)
@click.option(
    "--forwarded-allow-ips",
    help="The trusted reverse proxies, comma-separated addresses or networks "
    "(default: $CGD_BRIDGE_FORWARDED_ALLOW_IPS, else 127.0.0.1).",
)
@click.option(
    "--root-path",
    help="The path prefix the bridge is served under behind a proxy that strips it, e.g. /cgd-bridge "
    "(default: $CGD_BRIDGE_ROOT_PATH, else none).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="text: uvicorn's lines, for a terminal; json: one JSON object a line, one line per request "
    "with its request id (default: $CGD_BRIDGE_LOG_FORMAT, else text).",
)
def serve(
    host: str,
    port: int,
    database_url: str | None,
    workers: int,
    proxy_headers: bool | None,
    forwarded_allow_ips: str | None,
    root_path: str | None,
    log_format: str | None,
) -> None:
    """Run the bridge server: SDMX REST API, JSON API and web pages (migrations run first)."""
    from cgd_bridge.server.run import run_server

    update: dict[str, Any] = {}
    if proxy_headers is not None:
        update["proxy_headers"] = proxy_headers
    if forwarded_allow_ips is not None:
        update["forwarded_allow_ips"] = forwarded_allow_ips
    if root_path is not None:
        update["root_path"] = root_path
    if log_format is not None:
        update["log_format"] = log_format
    settings = _settings()
    if update:
        from pydantic import ValidationError

        try:
            settings = type(settings).model_validate({**settings.model_dump(), **update})
        except ValidationError as exc:
            first = exc.errors()[0]
            option = "--" + str(first["loc"][0]).replace("_", "-")
            raise click.BadParameter(
                str(first["msg"]).removeprefix("Value error, "), param_hint=option
            ) from None
    run_server(
        settings, host=host, port=port, database_url=database_url, workers=workers, say=click.echo, t=_t()
    )


#: The top-level modules of the server extra (pyproject.toml's ``[server]``).
SERVER_MODULES = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "multipart", "psycopg", "httpx")
SERVER_EXTRA = "pip install 'cgd-bridge[server]'"


def missing_server_extra() -> str | None:
    """The first module of the server extra that is not installed, or None."""
    import importlib.util

    return next((m for m in SERVER_MODULES if importlib.util.find_spec(m) is None), None)


def require_server_extra() -> None:
    """Stop with the install command when the server extra is missing."""
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import N_

    missing = missing_server_extra()
    if missing is not None:
        raise UsageError(
            N_("this command needs the bridge server, which is not installed ({module} is missing)"),
            fix=N_("Install it: {command}"),
            params={"module": missing, "command": SERVER_EXTRA},
        )


def stop_cleanly_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``, a service manager) an interrupt, so what is being
    written is cleaned up as on Ctrl-C (no ``.tmp`` file is left beside an output, #14)."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (an embedding program's choice)
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every failure into a message and exit code 2."""
    stop_cleanly_on_sigterm()
    _State.t = None  # each run reads its own --lang (a program may call main more than once)
    _State.lang = None
    args = sys.argv[1:] if argv is None else argv
    # click's usage errors are shown here, after cli.main: in the run's language too
    with cli_i18n.speaking(cli_i18n.translator_for(args)):
        _run(args)


def _run(argv: list[str]) -> None:
    """Run the CLI on ``argv``; every failure becomes a message and exit code 2."""
    try:
        cli.main(args=argv, prog_name="cgd-bridge", standalone_mode=False)
    except ModuleNotFoundError as exc:
        if _State.debug or (exc.name or "").partition(".")[0] not in SERVER_MODULES:
            raise
        from cgd_bridge.i18n import N_

        _say(
            N_(
                "Error: this command needs the bridge server, which is not "
                "installed ({module} is missing): {command}"
            ),
            err=True,
            module=exc.name,
            command=SERVER_EXTRA,
        )
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_FAILED)
    except click.exceptions.Abort:
        from cgd_bridge.i18n import N_

        _say(N_("Aborted."), err=True)
        sys.exit(EXIT_FAILED)
    except CgdBridgeError as exc:
        if _State.debug:
            raise
        from cgd_bridge.i18n import N_
        from cgd_bridge.render import printable

        t = _t()
        click.echo(printable(t.gettext(N_("Error: {message}"), message=exc.message_in(t))), err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        from cgd_bridge.i18n import N_

        _say(N_("Interrupted."), err=True)
        sys.exit(EXIT_FAILED)
    except Exception as exc:
        if _State.debug:
            raise
        from cgd_bridge.i18n import N_
        from cgd_bridge.render import printable as _printable

        _say(
            N_(
                "Error: cgd-bridge failed unexpectedly ({kind}: {reason}). Run again with --debug and "
                "report the output."
            ),
            err=True,
            kind=type(exc).__name__,
            reason=_printable(str(exc)),
        )
        sys.exit(EXIT_FAILED)


def babel_extract(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[Any, ...]]:
    """Babel extractor for this module (``babel.cfg``): its marked messages, as the Python
    extractor finds them, and the help of every command, option and group of ``cli``
    (:func:`cgd_bridge.cli_i18n.texts_of`: docstrings and ``help=`` texts are message ids as they
    are written, with no marking)."""
    from babel.messages.extract import extract_python

    yield from extract_python(fileobj, keywords, comment_tags, options)
    for text in cli_i18n.texts_of(cli):
        yield 0, "_", text, ["command-line help"]
