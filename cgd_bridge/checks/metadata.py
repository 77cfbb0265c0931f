"""Quality-metadata checks: completeness by stage, vocabularies, dates in order, SDG codes,
licence, consent, participation, revision, and the DSAT self-assessment score rule.

Completeness follows each field's ``required_at`` (see :mod:`cgd_bridge.metadata.model`): at
submission, a missing submission field is an error and a missing release field a warning that
says it will be needed before release; at release, both are errors.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel

from cgd_bridge.checks.base import BaseCheck, Context
from cgd_bridge.findings import Finding, Severity, register
from cgd_bridge.i18n import ENGLISH, N_, msg
from cgd_bridge.metadata.load import LoadedMetadata
from cgd_bridge.metadata.model import LICENCES, PROFILE, QualityMetadata, RequiredAt

MISSING_FIELD = register(
    "metadata-missing-field", Severity.ERROR, "metadata", "Missing metadata field",
    """A field of the quality metadata is empty. Fields required at submission are errors;
    fields required before release are warnings at submission and errors at release
    (``--stage release``).""",
)  # fmt: skip
DATE_ORDER = register(
    "metadata-date-order", Severity.ERROR, "metadata", "Dates out of order",
    """A period ends before it starts, or data was published before it was collected.""",
)  # fmt: skip
SDG_CODE = register(
    "metadata-sdg-code", Severity.ERROR, "metadata", "Malformed SDG code",
    """An SDG target (like 16.6), indicator (like 16.6.2) or series code (like SP_PSR_SATIS)
    is not written the way the SDG framework writes it.""",
)  # fmt: skip
DSAT_FAIL = register(
    "dsat-fail", Severity.ERROR, "metadata", "Self-assessment does not pass",
    """The DSAT-compatible self-assessment fails: an ethics principle is answered 'no', a
    quality dimension scores 0, or the five scores add up to less than 8 of 15. Statistics
    Canada's Data Suitability Assessment Tool treats such data as not fit for official
    reporting.""",
)  # fmt: skip
LICENCE = register(
    "metadata-licence", Severity.ERROR, "metadata", "Unknown licence",
    """The licence is not one the bridge knows (CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0, ODbL-1.0,
    CC-BY-NC-4.0) and is not 'custom' with a URL.""",
)  # fmt: skip
MISSING_CONSENT = register(
    "missing-consent", Severity.ERROR, "privacy", "Consent not recorded",
    """The metadata does not record that respondents gave informed consent, or its scope
    does not allow sharing with a national statistics office.""",
)  # fmt: skip
PARTICIPATION = register(
    "metadata-participation", Severity.WARNING, "metadata", "Citizens not in design or collection",
    """Under the Copenhagen Framework, citizen data needs citizens in the design or the
    collection of the data; neither is listed in participation.stages.""",
)  # fmt: skip
REVISION = register(
    "metadata-revision", Severity.ERROR, "metadata", "Revision note missing",
    """A version after 1.0.0 must say what changed (revision.note) and which version it
    supersedes.""",
)  # fmt: skip
NON_PROBABILITY = register(
    "non-probability-sample", Severity.WARNING, "metadata", "Not a probability sample",
    """The sample is not a probability sample (purposive, convenience, snowball). Estimates
    describe the people asked and are not representative of the whole population; the NSO
    will publish them as experimental.""",
)  # fmt: skip
TIMELINESS = register(
    "metadata-timeliness", Severity.WARNING, "metadata", "Published long after the period",
    """The data is published more than 24 months after the end of its reference period, which
    limits its use for SDG monitoring.""",
)  # fmt: skip
PROFILE_CODE = register(
    "metadata-profile", Severity.ERROR, "metadata", "Wrong template profile",
    """The file does not say it follows cgd-quality/1.0 (profile field).""",
)  # fmt: skip

_TARGET = re.compile(r"^([1-9]|1[0-7])\.([1-9][0-9]?|[a-z])$")
_INDICATOR = re.compile(r"^([1-9]|1[0-7])\.([1-9][0-9]?|[a-z])\.[1-9][0-9]?$")
_SERIES = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
DSAT_PASS_TOTAL = 8
#: the DSAT's ethics principles and quality dimensions by name, as a reason for failing says them
DSAT_NAMES = {
    "benefit": N_("benefit to the population"),
    "fairness_no_harm": N_("fairness and no harm"),
    "transparency_accountability": N_("transparency and accountability"),
    "privacy": N_("privacy"),
    "confidentiality": N_("confidentiality"),
    "accuracy_reliability": N_("accuracy and reliability"),
    "timeliness_punctuality": N_("timeliness and punctuality"),
    "accessibility_clarity": N_("accessibility and clarity"),
    "interpretability": N_("interpretability"),
    "coherence_comparability": N_("coherence and comparability"),
}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class MetadataCheck(BaseCheck):
    """All metadata-only checks; they run once, before the data is read."""

    def start(self, ctx: Context) -> None:
        """Run every metadata check and add the findings to the report."""
        md = ctx.metadata
        if md is None:
            return
        ctx.report.extend(md.findings)  # invalid values and unknown fields found at load time
        for finding in metadata_findings(md, stage=ctx.options.stage):
            ctx.report.add(finding)


def metadata_findings(md: LoadedMetadata, *, stage: str) -> list[Finding]:
    """The findings of every metadata-only check on a loaded metadata file."""
    m = md.model
    out: list[Finding] = []
    out.extend(completeness(md, m, (), stage, parent_required=True))
    out.extend(_profile(md, m))
    out.extend(_dates(md, m))
    out.extend(_sdg_codes(md, m))
    out.extend(_dsat(md, m))
    out.extend(_licence(md, m))
    out.extend(_consent(md, m))
    out.extend(_participation(md, m))
    out.extend(_revision(md, m))
    out.extend(_sampling(md, m))
    return out


def _f(
    md: LoadedMetadata,
    code: str,
    path: str,
    problem: str,
    fix: str,
    params: dict[str, Any] | None = None,
    **kw: Any,
) -> Finding:
    """A metadata finding; ``problem`` and ``fix`` are message ids (templates with ``params``)."""
    return md.finding(code, path, problem, fix, params, **kw)


def completeness(
    md: LoadedMetadata, model: BaseModel, path: tuple[str, ...], stage: str, *, parent_required: bool
) -> list[Finding]:
    """Missing fields, by the stage at which each becomes required."""
    out: list[Finding] = []
    for name, info in type(model).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        required_at = str(extra.get("required_at", RequiredAt.OPTIONAL))
        value = getattr(model, name)
        dotted = ".".join((*path, name))
        if _empty(value):
            if required_at == RequiredAt.OPTIONAL or not parent_required:
                continue
            if required_at == RequiredAt.RELEASE and stage == "submission":
                severity, problem = (
                    Severity.WARNING,
                    N_("'{field}' is empty; it is required before the NSO can release the data"),
                )
            else:
                severity, problem = (
                    Severity.ERROR,
                    N_("'{field}' is empty; it is required to submit")
                    if required_at == RequiredAt.SUBMISSION
                    else N_("'{field}' is empty; it is required for release"),
                )
            help_text = str(extra.get("help", ""))
            out.append(
                md.finding(
                    MISSING_FIELD, dotted, problem,
                    N_("Fill it in: {help}") if help_text else N_("Fill it in:"),
                    {"field": dotted, "help": help_text}, ("help",),
                    severity=severity,
                    details={"required_at": required_at},
                )
            )  # fmt: skip
            continue
        if isinstance(value, BaseModel):
            # a present optional section is checked like a required one: filled in, it must be whole
            out.extend(completeness(md, value, (*path, name), stage, parent_required=True))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out.extend(completeness(md, item, (*path, name, str(i)), stage, parent_required=True))
    return out


def _profile(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    if "profile" in md.raw and m.profile and m.profile.split("/")[0] != PROFILE.split("/")[0]:
        return [
            _f(
                md, PROFILE_CODE, "profile",
                N_("the profile is '{profile}'"), N_("Write profile: {expected}"),
                {"profile": m.profile, "expected": PROFILE},
            )
        ]  # fmt: skip
    return []


def _dates(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    out = []
    p = m.period
    pairs = []
    if p:
        pairs += [
            ("period.reference_end", p.reference_start, p.reference_end, N_("the reference period")),
            ("period.collection_end", p.collection_start, p.collection_end, N_("data collection")),
        ]
    if m.ownership and m.ownership.validation_date and p and p.collection_start:
        pairs.append(
            (
                "ownership.validation_date",
                p.collection_start,
                m.ownership.validation_date,
                N_("community validation"),
            )
        )
    if m.release and m.release.published and p and p.collection_end:
        pairs.append(("release.published", p.collection_end, m.release.published, N_("publication")))
    for path, start, end, what in pairs:
        if start and end and end < start:
            out.append(
                _f(
                    md, DATE_ORDER, path,
                    N_("{what} ends or happens on {end}, before {start}"),
                    N_("Check both dates: the later one must not come before the earlier one."),
                    {"what": what, "end": str(end), "start": str(start)}, translate=("what",),
                )
            )  # fmt: skip
    if p and p.reference_end and m.release and m.release.published:
        months = (m.release.published - p.reference_end).days / 30.44
        if months > 24:
            out.append(
                _f(
                    md, TIMELINESS, "release.published",
                    N_("the data is published {months} months after the reference period ended"),
                    N_("Say why in 'limitations'; NSOs rarely use data older than two years."),
                    {"months": f"{months:.0f}"},
                )
            )  # fmt: skip
    return out


def _sdg_codes(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    out: list[Finding] = []
    if not m.purpose:
        return out
    checks = (
        ("sdg_targets", m.purpose.sdg_targets, _TARGET, N_("a target is goal.target, e.g. 16.6 or 4.a")),
        (
            "sdg_indicators",
            m.purpose.sdg_indicators,
            _INDICATOR,
            N_("an indicator is goal.target.n, e.g. 16.6.2"),
        ),
        (
            "sdg_series",
            m.purpose.sdg_series,
            _SERIES,
            N_("a series code is upper-case with underscores, e.g. SP_PSR_SATIS"),
        ),
    )
    for name, values, pattern, rule in checks:
        for i, code in enumerate(values or []):
            if not pattern.match(str(code).strip()):
                out.append(
                    _f(
                        md, SDG_CODE, f"purpose.{name}.{i}",
                        N_("'{code}' is not a well-formed SDG code"),
                        N_("Write it as the SDG framework does: {rule}."),
                        {"code": str(code), "rule": rule}, translate=("rule",), value=str(code),
                    )
                )  # fmt: skip
    if m.purpose.sdg_indicators and m.purpose.sdg_targets:
        targets = {t.strip() for t in m.purpose.sdg_targets}
        for i, ind in enumerate(m.purpose.sdg_indicators):
            target = ".".join(str(ind).split(".")[:2])
            if _INDICATOR.match(str(ind)) and target not in targets:
                out.append(
                    _f(
                        md, SDG_CODE, f"purpose.sdg_indicators.{i}",
                        N_("indicator {indicator} belongs to target {target}, which is not in sdg_targets"),
                        N_("Add {target} to purpose.sdg_targets, or correct the indicator."),
                        {"indicator": str(ind), "target": target},
                        severity=Severity.WARNING, value=str(ind),
                    )
                )  # fmt: skip
    return out


def dsat_score(m: QualityMetadata) -> dict[str, Any] | None:
    """The DSAT verdict: ``{"ethics_pass", "quality_pass", "total", "pass", "reasons"}``."""
    sa = m.quality.self_assessment if m.quality else None
    if sa is None or sa.ethics is None or sa.dimensions is None:
        return None
    ethics = sa.ethics.model_dump(exclude={"__pydantic_extra__"})
    dims = sa.dimensions.model_dump()
    ethics = {k: v for k, v in ethics.items() if k in type(sa.ethics).model_fields}
    dims = {k: v for k, v in dims.items() if k in type(sa.dimensions).model_fields}
    # each reason a composed message, its principle or dimension named in words: "reasons" holds
    # the English, "why" the messages any page or answer translates (cgd_bridge.findings.dsat_in)
    why = [
        msg(N_("ethics principle '{principle}' is answered 'no'"), principle=_dsat_name(k))
        for k, v in ethics.items()
        if v == "no"
    ]
    why += [
        msg(N_("quality dimension '{dimension}' scores 0"), dimension=_dsat_name(k))
        for k, v in dims.items()
        if v == 0
    ]
    scored = [v for v in dims.values() if v is not None]
    total = sum(scored)
    complete = len(scored) == len(dims) and all(v is not None for v in ethics.values())
    if complete and total < DSAT_PASS_TOTAL:
        why.append(
            msg(
                N_("the quality scores add up to {total} of 15, below {least}"),
                total=total,
                least=DSAT_PASS_TOTAL,
            )
        )
    ethics_pass = all(v == "yes" for v in ethics.values())
    quality_pass = complete and total >= DSAT_PASS_TOTAL and 0 not in scored
    return {
        "ethics_pass": ethics_pass,
        "quality_pass": quality_pass,
        "total": total,
        "max": 15,
        "pass": ethics_pass and quality_pass,
        "complete": complete,
        "reasons": [ENGLISH.text(w) for w in why],
        "why": why,  # the reasons as composed messages (cgd_bridge.i18n.msg), for any language
    }


def _dsat_name(key: str) -> dict[str, Any] | str:
    """A principle's or dimension's name as a message (its key where the DSAT has no such one)."""
    return msg(DSAT_NAMES[key]) if key in DSAT_NAMES else key


def _dsat(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    verdict = dsat_score(m)
    if verdict is None:
        return []
    return [
        _f(
            md, DSAT_FAIL, "quality.self_assessment",
            N_("the self-assessment does not pass: {reason}"),
            N_("Re-assess honestly; if the answer stands, say in 'limitations' why and how the "
               "data may still be used. The NSO will not use the data for official reporting."),
            {"reason": reason},
        )
        for reason in verdict["why"]
    ]  # fmt: skip


def _licence(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    lic = m.licence
    if lic is None or not lic.id:
        return []
    if lic.id not in LICENCES:
        return [
            _f(
                md, LICENCE, "licence.id", N_("'{licence}' is not a licence the bridge knows"),
                N_("Use one of: {allowed} (with licence.url for custom)."),
                {"licence": lic.id, "allowed": ", ".join(LICENCES)}, value=lic.id,
            )
        ]  # fmt: skip
    if lic.id == "custom" and not lic.url:
        return [
            _f(
                md,
                LICENCE,
                "licence.url",
                N_("a custom licence needs the URL of its text"),
                N_("Fill in licence.url."),
            )
        ]
    return []


def _consent(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    c = m.consent
    fix = N_(
        "Record consent (consent.obtained: true, with its form and scope); without it the NSO "
        "cannot receive the data."
    )
    if c is None or c.obtained is None:
        return [_f(md, MISSING_CONSENT, "consent.obtained", N_("informed consent is not recorded"), fix)]
    if c.obtained is False:
        return [
            _f(md, MISSING_CONSENT, "consent.obtained", N_("the metadata says consent was not obtained"), fix)
        ]
    if c.scope in ("collection_only", "aggregate_publication"):
        return [
            _f(
                md, MISSING_CONSENT, "consent.scope",
                N_("respondents agreed to '{scope}', which does not cover sharing with a national "
                   "statistics office"),
                N_("Submit only if respondents agreed to sharing_with_nso or open; otherwise publish "
                   "the aggregates yourself."),
                {"scope": str(c.scope)},
                value=str(c.scope),
            )
        ]  # fmt: skip
    return []


def _participation(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    stages = m.participation.stages if m.participation else None
    if stages and not {"design", "collection"} & set(stages):
        return [
            _f(
                md, PARTICIPATION, "participation.stages",
                N_("citizens took part in {stages} but not in design or collection"),
                N_("If citizens designed or collected the data, add that stage; otherwise the data "
                   "may not count as citizen data."),
                {"stages": ", ".join(stages)},
            )
        ]  # fmt: skip
    return []


def _revision(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    v = m.dataset.version if m.dataset else None
    if not v or not re.match(r"^\d+\.\d+\.\d+$", v) or v == "1.0.0":
        return []
    major_minor_patch = tuple(int(x) for x in v.split("."))
    if major_minor_patch <= (1, 0, 0):
        return []
    out = []
    if not (m.revision and m.revision.note):
        out.append(
            _f(
                md,
                REVISION,
                "revision.note",
                N_("version {version} has no revision note"),
                N_("Say in revision.note what changed since the previous version."),
                {"version": v},
            )
        )
    if not (m.revision and m.revision.supersedes):
        out.append(
            _f(
                md,
                REVISION,
                "revision.supersedes",
                N_("version {version} does not say which version it supersedes"),
                N_("Fill in revision.supersedes, e.g. 1.0.0."),
                {"version": v},
            )
        )
    return out


def _sampling(md: LoadedMetadata, m: QualityMetadata) -> list[Finding]:
    design = m.sampling.design if m.sampling else None
    if design in ("purposive", "convenience", "snowball"):
        return [
            _f(
                md, NON_PROBABILITY, "sampling.design",
                N_("the sample is {design}, so the results are not representative"),
                N_("Nothing to fix if that is so: say it in 'limitations'. The NSO will mark the "
                   "observations as experimental (OBS_STATUS G)."),
                {"design": design},
            )
        ]  # fmt: skip
    return []


def today() -> dt.date:
    """Today's date (a function so tests can patch it)."""
    return dt.datetime.now(dt.UTC).date()
