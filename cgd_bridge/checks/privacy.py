"""Privacy checks on columns: personal identifiers (by name and by content), exact GPS points,
Kobo/ODK fields that identify respondents or enumerators, and free-text answers.

Content is scanned on the first batch only (a sample of up to ``batch_rows`` rows): a column
where more than a few values look like phone numbers or e-mail addresses is an identifier
whatever its name. Small cells are in :mod:`cgd_bridge.checks.disclosure`; consent in
:mod:`cgd_bridge.checks.metadata`.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.checks.base import BaseCheck, Context, TypedBatch, count_true
from cgd_bridge.findings import Severity, register
from cgd_bridge.ingest.kobo import META_IDENTIFYING
from cgd_bridge.ingest.schema import normalise_name

PII_COLUMN = register(
    "pii-column", Severity.ERROR, "privacy", "Personal identifier in the data",
    """A column holds, or is named for, information that identifies a person: a name, a phone
    number, an e-mail address, a national ID or passport number, an exact GPS point, or a
    Kobo/ODK field naming the respondent, the enumerator or the device. Such data must not
    leave the CSO: delete the column before submitting.""",
)  # fmt: skip
FREE_TEXT = register(
    "free-text-column", Severity.WARNING, "privacy", "Free-text answers",
    """A column holds long, mostly unique free text. Free text often contains names, places
    and stories that identify people; check it, and leave it out unless it is needed.""",
)  # fmt: skip

_NAME_PATTERNS: list[tuple[str, str]] = [
    (r"^(name|full_?name|first_?name|given_?name|last_?name|surname|family_?name|middle_?name"
     r"|respondent_?name|participant_?name|enumerator_?name|head_?of_?household_?name|hh_?head_?name"
     r"|names?_of_.*|.*_name_of_respondent)$", "a person's name"),
    (r"^(phone|phone_?number|mobile|mobile_?number|tel|telephone|msisdn|contact_?number|cell_?phone)$",
     "a phone number"),
    (r"^(e_?mail|email_?address)$", "an e-mail address"),
    (r"^(national_?id|id_?number|id_?no|nid|nin|passport|passport_?number|voter_?id|birth_?cert.*"
     r"|citizenship_?(no|number)|huduma(_?number)?|aadhaar|nic)$", "an identity document number"),
    (r"^(address|home_?address|street|house_?number|plot_?number)$", "a home address"),
    (r"^(gps|geopoint|coordinates|location_?gps|lat|latitude|lon|lng|long|longitude|_?geolocation"
     r"|gps_?(lat|lon|latitude|longitude|altitude|precision).*)$", "an exact GPS location"),
    (r"^(imei|device_?id|deviceid|subscriber_?id|sim_?serial|username|user_?name)$",
     "a device or user identifier"),
]  # fmt: skip
_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
_PHONE = r"^\+?[0-9][0-9 ()-]{7,16}[0-9]$"
_GPS = r"^-?[0-9]{1,3}\.[0-9]{4,}[ ,;]+-?[0-9]{1,3}\.[0-9]{4,}"
_CONTENT = [(_EMAIL, "e-mail addresses"), (_PHONE, "phone numbers"), (_GPS, "exact GPS coordinates")]


def name_looks_identifying(name: str) -> str | None:
    """What a column name says it identifies (``"a phone number"``), or None."""
    norm = normalise_name(name)
    last = normalise_name(name.split("/")[-1])
    for pattern, what in _NAME_PATTERNS:
        if re.match(pattern, norm) or re.match(pattern, last):
            return what
    return None


class PrivacyCheck(BaseCheck):
    """Personal identifiers and free text, by column."""

    def __init__(self) -> None:
        self.flagged: set[int] = set()

    def start(self, ctx: Context) -> None:
        """Flag columns by name and by Kobo/ODK kind."""
        self.flagged = set()
        for col in ctx.table.columns:
            what = None
            if col.kind == "gps":
                what = "an exact GPS location"
            elif col.kind == "meta" and col.header.lower() in META_IDENTIFYING:
                what = "a Kobo/ODK field identifying the respondent, the enumerator or the device"
            elif col.kind != "meta":
                what = name_looks_identifying(col.header)
            if what:
                self._flag(ctx, col.index, col.header, f"the column '{col.header}' holds {what}")

    def _flag(self, ctx: Context, index: int, header: str, problem: str) -> None:
        self.flagged.add(index)
        ctx.report.add(
            ctx.finding(
                PII_COLUMN,
                problem,
                "Delete this column before submitting (in Kobo, untick it in the export "
                "settings); the NSO needs no personal identifiers.",
                field=header,
            )
        )

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """On the first batch, scan the content of every text column."""
        if tb.first_row != 2:
            return
        for col in ctx.table.columns:
            if col.index in self.flagged or col.kind == "meta":
                continue
            values = pc.drop_null(tb.raw.column(col.key))
            n = len(values)
            if n == 0:
                continue
            for pattern, what in _CONTENT:
                hits = count_true(pc.match_substring_regex(values, pattern))
                if hits >= max(3, 0.2 * n):
                    self._flag(
                        ctx,
                        col.index,
                        col.header,
                        f"the column '{col.header}' holds {what} ({hits} of {n} values in the first rows)",
                    )
                    break
            else:
                self._free_text(ctx, col.name, values)

    @staticmethod
    def _free_text(ctx: Context, header: str, values: pa.Array) -> None:
        f = ctx.schema.field(header)
        if f is not None and (f.role != "other" or f.constraints.get("enum") or f.multiple):
            return
        n = len(values)
        if n < 20:
            return
        mean_len = pc.mean(pc.utf8_length(values)).as_py() or 0
        distinct = len(pc.unique(values))
        if mean_len >= 40 and distinct >= 0.8 * n:
            ctx.report.add(
                ctx.finding(
                    FREE_TEXT,
                    f"the column '{header}' holds free text ({distinct} different answers, "
                    f"{mean_len:.0f} characters on average)",
                    "Read it for names, places and stories that identify people; remove the column "
                    "unless the NSO needs it.",
                    field=header,
                )
            )
