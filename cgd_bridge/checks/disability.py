"""Washington Group Short Set (WG-SS): answers, missing answers and the disability status.

When the data has the six WG-SS questions (columns with role ``wg`` and a ``wgDomain``), every
row's disability status is recomputed with the international cut-off: a person has a
disability (SDG code PD) if any domain is answered "a lot of difficulty" or "cannot do at all";
with all six answered and none of these, the person has no disability (PWD). Rows with missing
answers and no such answer stay unknown: they are reported, never imputed as "without
disability". Where the data also has a disability-status column, it is compared row by row;
a status the schema says is not known (``disabilityValues.unknown``, by default words such as
``unknown`` or ``don't know``) contradicts nothing. Answers are read with the same words as the
mapping's ``derive: washington_group`` (:mod:`cgd_bridge.mapping.washington`), so a status
derived there agrees with this check by construction.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.checks.base import BaseCheck, Context, TypedBatch, add_examples, quoted
from cgd_bridge.findings import Severity, register
from cgd_bridge.i18n import N_, msg
from cgd_bridge.ingest.schema import WG_DOMAINS
from cgd_bridge.mapping.washington import INVALID, MISSING, answer_codes, answer_labels

WG_INCOMPLETE = register(
    "wg-incomplete", Severity.WARNING, "disability", "Washington Group set incomplete",
    """Some but not all six Washington Group Short Set questions are in the data, so disability
    status cannot be computed the standard way.""",
)  # fmt: skip
WG_INVALID = register(
    "wg-invalid-answer", Severity.ERROR, "disability", "Washington Group answer not recognised",
    """A Washington Group answer is not one of the four categories (1 no difficulty, 2 some
    difficulty, 3 a lot of difficulty, 4 cannot do at all) nor a recognised 'missing' answer.""",
)  # fmt: skip
WG_MISSING = register(
    "wg-missing-answer", Severity.WARNING, "disability", "Washington Group answer missing",
    """A respondent did not answer one of the six questions (or refused, or did not know), and
    the other answers do not settle the status. The status is left unknown (_U); it is never
    imputed as 'without disability'.""",
)  # fmt: skip
WG_MISMATCH = register(
    "wg-status-mismatch", Severity.ERROR, "disability", "Disability status disagrees with the answers",
    """The row's disability status differs from the one the Washington Group cut-off gives for
    its six answers (any 'a lot of difficulty' or 'cannot do at all' means with disability).""",
)  # fmt: skip

DEFAULT_WITH = ("with disability", "with_disability", "disabled", "yes", "y", "1", "true", "pd",
                "person with disability", "persons with disability", "persons with disabilities")  # fmt: skip
DEFAULT_WITHOUT = ("without disability", "without_disability", "not disabled", "no", "n", "0",
                   "false", "person without disability", "persons without disability")  # fmt: skip
DEFAULT_UNKNOWN = ("unknown", "not known", "don't know", "dont know", "dont_know", "dk", "refused",
                   "not stated", "_u", "na", "n/a")  # fmt: skip


class WashingtonGroupCheck(BaseCheck):
    """Recompute WG-SS disability status and compare it with the data's."""

    def __init__(self) -> None:
        self.domains: dict[str, str] = {}
        self.status: str | None = None

    def start(self, ctx: Context) -> None:
        """Find the six domain columns and the status column."""
        self.domains = {
            f.wg_domain: f.name for f in ctx.schema.by_role("wg") if f.wg_domain and f.name in ctx.bound
        }
        status = [
            f for f in ctx.schema.fields
            if f.name in ctx.bound and (f.role == "disability_status" or f.dimension == "DISABILITY_STATUS")
        ]  # fmt: skip
        self.status = status[0].name if status and ctx.schema.data_kind == "microdata" else None
        if self.domains and len(self.domains) < len(WG_DOMAINS):
            missing = [d for d in WG_DOMAINS if d not in self.domains]
            ctx.report.add(
                ctx.finding(
                    WG_INCOMPLETE,
                    N_("the data has {n} of the 6 Washington Group questions; missing: {missing}"),
                    N_("Add the missing questions' columns (and mark them role: wg, wgDomain: ... in the "
                       "mapping), or do not describe the disability identification as WG-SS."),
                    {"n": len(self.domains), "missing": ", ".join(missing)},
                )
            )  # fmt: skip

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Code the answers, report bad and missing ones, recompute and compare the status."""
        if len(self.domains) < len(WG_DOMAINS) or ctx.schema.data_kind != "microdata":
            return
        n = tb.num_rows
        severe = np.zeros(n, dtype=bool)
        missing_any = np.zeros(n, dtype=bool)
        labels = answer_labels()
        for domain in WG_DOMAINS:
            name = self.domains[domain]
            codes = answer_codes(tb.text[name], labels)
            is_missing = codes == MISSING
            invalid = codes == INVALID
            add_examples(
                ctx, tb, arrow.array(invalid),
                lambda row, v, name=name: ctx.finding(
                    WG_INVALID, N_("'{value}' is not a Washington Group answer"),
                    N_("Use 1 (no difficulty), 2 (some difficulty), 3 (a lot of difficulty) or "
                       "4 (cannot do at all); leave it empty if not answered."),
                    {"value": v},
                    row=row, field=name, value=v,
                ),
                text=tb.text[name],
            )  # fmt: skip
            add_examples(
                ctx, tb, arrow.array(is_missing),
                lambda row, _v, name=name, domain=domain: ctx.finding(
                    WG_MISSING, N_("the {domain} question is not answered"),
                    N_("Nothing to impute: the status stays unknown (_U) unless another answer is "
                       "'a lot of difficulty' or 'cannot do at all'. Check the questionnaire if many "
                       "are missing."),
                    {"domain": domain},
                    row=row, field=name,
                ),
            )  # fmt: skip
            severe |= codes >= 3
            missing_any |= is_missing | invalid
        computed = np.where(severe, "PD", np.where(missing_any, "_U", "PWD"))
        if self.status is None:
            return
        f = ctx.schema.field(self.status)
        assert f is not None
        with_ = {v.casefold() for v in f.disability_values.get("with", DEFAULT_WITH)}
        without = {v.casefold() for v in f.disability_values.get("without", DEFAULT_WITHOUT)}
        stated_text = pc.utf8_lower(tb.text[self.status])
        is_with = arrow.to_numpy(
            arrow.fill_null(pc.is_in(stated_text, value_set=arrow.array(sorted(with_))), False)
        )
        is_without = arrow.to_numpy(
            arrow.fill_null(pc.is_in(stated_text, value_set=arrow.array(sorted(without))), False)
        )
        unknown_words = {v.casefold() for v in f.disability_values.get("unknown", DEFAULT_UNKNOWN)}
        is_unknown = arrow.to_numpy(
            arrow.fill_null(
                pc.is_in(
                    pc.utf8_trim_whitespace(stated_text),
                    value_set=arrow.array(sorted(unknown_words), pa.string()),
                ),
                False,
            )
        )
        stated = np.where(is_with, "PD", np.where(is_without, "PWD", np.where(is_unknown, "_U", "?")))
        mismatch = (computed != "_U") & (stated != "?") & (stated != computed)
        words = {"PD": N_("with disability"), "PWD": N_("without disability")}
        add_examples(
            ctx, tb, arrow.array(mismatch),
            lambda row, v: ctx.finding(
                WG_MISMATCH,
                N_("the row says '{value}' but its Washington Group answers give '{status}'"),
                N_("Recompute the status with the WG-SS cut-off (any answer 3 or 4 = with disability) "
                   "instead of editing answers."),
                {"value": v, "status": words[str(computed[row - tb.first_row])]}, translate=("status",),
                row=row, field=self.status, value=v,
            ),
            text=tb.text[self.status],
        )  # fmt: skip
        unknown = (stated == "?") & arrow.to_numpy(pc.is_valid(stated_text))
        if unknown.any():
            values = sorted(set(pc.filter(tb.text[self.status], arrow.array(unknown)).to_pylist()))
            fix = msg(
                N_(
                    "Say in the mapping's schema which values mean with disability, without disability and "
                    "not known (disabilityValues: {{with: [...], without: [...], unknown: [...]}}); rows of "
                    "unknown status can then be left out with a drop rule or, better, the status derived "
                    "from the answers (derive: washington_group). Values seen: {values}."
                ),
                values=quoted(values),
            )
            if any(v.strip().upper() == "PWD" for v in values):
                fix = msg(
                    N_(
                        "{fix} Careful: in SDG codes PWD means persons WITHOUT disability, while many "
                        "organisations write PWD for persons with disabilities."
                    ),
                    fix=fix,
                )
            add_examples(
                ctx, tb, arrow.array(unknown),
                lambda row, v: ctx.finding(
                    WG_MISMATCH, N_("'{value}' is not a recognised disability status"), fix, {"value": v},
                    row=row, field=self.status, value=v, severity=Severity.ERROR,
                ),
                text=tb.text[self.status],
            )  # fmt: skip
