"""Harmonise, then store as a version: the one way a dataset comes into the bridge.

The JSON API (``POST /api/submissions``), the web pages (``POST /submit``) and the demo
(:mod:`cgd_bridge.server.demo`) all call :func:`harmonise_and_store` with the dataset's
:class:`~cgd_bridge.server.uploads.Inputs`: :func:`cgd_bridge.pipeline.harmonise` validates,
maps and conforms it; when validation passes, :func:`cgd_bridge.store.submissions.create_version`
stores it (files, report, metadata, observations) in one transaction. With validation errors
nothing is stored and the caller shows the report (the API and the web answer 422). This
module sits in the server because it joins two peers that never import each other, the
pipeline and the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cgd_bridge.checks.disclosure import COUNT_COLUMNS, Release
from cgd_bridge.clock import Clock
from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.findings import Report
from cgd_bridge.i18n import N_, msg
from cgd_bridge.metadata.load import read_metadata_file
from cgd_bridge.pipeline import Harmonisation
from cgd_bridge.server import metrics
from cgd_bridge.server.jobs import Jobs
from cgd_bridge.server.uploads import Inputs
from cgd_bridge.store import submissions
from cgd_bridge.store.data import load_table
from cgd_bridge.store.models import Version
from cgd_bridge.store.orgs import Principal
from cgd_bridge.structures import Structures


@dataclass(frozen=True)
class Intake:
    """What :func:`harmonise_and_store` did.

    Attributes:
        harmonisation: the pipeline's result, with its report.
        version: the version stored; None when validation found errors or nothing was to be stored.
    """

    harmonisation: Harmonisation
    version: Version | None = None

    @property
    def report(self) -> Report:
        """The validation report."""
        return self.harmonisation.report

    @property
    def valid(self) -> bool:
        """True when validation passed, so there is something to store."""
        return self.harmonisation.harmonised is not None and self.harmonisation.target is not None


def harmonise_and_store(
    session: Session,
    inputs: Inputs,
    *,
    principal: Principal,
    structures: Structures,
    clock: Clock,
    sheet: str | None = None,
    revision_note: str | None = None,
    submit: bool = False,
    store: bool = True,
    jobs: Jobs | None = None,
) -> Intake:
    """Harmonise ``inputs`` and store them as a new version of the principal's CSO's dataset.

    Args:
        inputs: the dataset's files (data, metadata, mapping, and a Kobo/ODK export's form).
        principal: a submitter (or admin) of the producing CSO.
        structures: the server's structures (codelists, DSDs, constraints).
        clock: read once, after harmonising, for the version's time.
        sheet: the XLSX sheet to read (default: the first).
        revision_note: why this version (from version 2 on).
        submit: send it for review now rather than keep it a draft.
        store: False only checks (the web page's "check" button): nothing is stored.
        jobs: the server's worker processes, where an upload is read and checked within the
            job limits (:mod:`cgd_bridge.server.jobs`); None runs it here (the demo's examples).

    Raises:
        what :func:`cgd_bridge.pipeline.harmonise` and
        :func:`cgd_bridge.store.submissions.create_version` raise (unreadable files, a broken
        mapping, Forbidden, Conflict ...). Validation errors are not raised: the returned
        :class:`Intake` has no version and its report lists them.
    """
    try:
        previous = _previous_release(session, inputs, principal, jobs)
        result = inputs.harmonise(structures=structures, sheet=sheet, jobs=jobs, previous=previous)
    except BaseException:
        metrics.submitted("refused")
        raise
    intake = Intake(result)
    if not intake.valid or not store:
        metrics.submitted("invalid" if not intake.valid else "checked")
        return intake
    try:
        version = _store(session, inputs, result, principal, clock, revision_note, submit)
    except BaseException:
        metrics.submitted("refused")
        raise
    metrics.submitted("stored")
    return Intake(result, version)


def _previous_release(
    session: Session, inputs: Inputs, principal: Principal, jobs: Jobs | None
) -> Release | None:
    """The published version of the dataset these files are a new version of (the producer's
    dataset with the metadata's ``dataset.id``), as data for the disclosure audit: what the
    public already knows (docs/disclosure.md, "Two releases"). None for a first release, or
    when the metadata cannot be read (harmonising then says why)."""
    path = inputs.paths.get("metadata")
    if path is None:
        return None
    try:
        if jobs is not None:  # an upload's file is read within the job limits
            raw = jobs.run("read_metadata", what=msg(N_("the file '{name}'"), name=path.name), path=str(path))
        else:
            raw, _lines, _fmt = read_metadata_file(path)
    except CgdBridgeError:
        return None
    dataset = raw.get("dataset") if isinstance(raw, dict) else None
    slug = dataset.get("id") if isinstance(dataset, dict) else None
    if not isinstance(slug, str) or not slug.strip():
        return None
    current = submissions.current_release(session, producer_id=principal.org_id, dataset=slug.strip())
    if current is None:
        return None
    table = load_table(session, current.id)
    # what release_status reads, nothing more: the worker receives it through a pipe
    keep = {*current.dimensions, "TIME_PERIOD", "OBS_VALUE", "SUPPRESSED", *COUNT_COLUMNS}
    table = table.select([c for c in table.column_names if c in keep])
    return Release(table, version_id=current.id, number=current.number)


def _store(
    session: Session,
    inputs: Inputs,
    result: Harmonisation,
    principal: Principal,
    clock: Clock,
    revision_note: str | None,
    submit: bool,
) -> Version:
    return submissions.create_version(
        session,
        result,
        principal=principal,
        files=inputs.raw,
        revision_note=revision_note,
        submit=submit,
        now=clock(),  # after the harmonising, as the store's own default would be
    )
