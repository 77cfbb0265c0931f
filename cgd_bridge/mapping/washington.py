"""Disability status from the six Washington Group Short Set (WG-SS) answers, row by row.

A mapping's ``derive`` section may compute a column from the six WG-SS domain columns (the
usual shape of a KoboToolbox or ODK export), so no one has to compute the status by hand::

    derive:
      disability:                       # a new column, used like any column of the data
        washington_group:
          columns: {seeing: wg_seeing, hearing: wg_hearing, walking: wg_walking,
                    remembering: wg_remembering, selfcare: wg_selfcare,
                    communicating: wg_communicating}
          cutoff: disability3           # the WG's recommended identifier (the default)
          missing: drop                 # or {value: unknown}

The identifiers are the Washington Group's (analytic guidelines for the WG-SS):

- ``disability1``: at least one domain "some difficulty" or worse;
- ``disability2``: at least two domains "some difficulty" or worse, or one domain "a lot of
  difficulty" or "cannot do at all";
- ``disability3`` (recommended for international comparison, the SDG disaggregation): at least
  one domain "a lot of difficulty" or "cannot do at all";
- ``disability4``: at least one domain "cannot do at all".

A respondent meeting the cut-off with the answers given has a disability whatever else is
missing; one who does not meet it is without disability only when all six domains are
answered. Anyone else (an answer left empty, refused or "don't know", and no answered domain
meeting the cut-off) has an unknown status, never imputed as "without disability": the mapping
drops them with a reason counted in the coverage report (``missing: drop``) or gives them a
value of its own (``missing: {value: ...}``). An answer that is none of the four categories nor
a missing answer is listed in the coverage report like a label without a code, and its row is
left out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.ingest.schema import WG_DOMAINS
from cgd_bridge.mapping.aggregate import by_dictionary
from cgd_bridge.mapping.model import WashingtonGroup, normalise_label

#: the four answer categories (1-4) and the labels each is known by (case and spaces ignored)
ANSWERS: dict[int, tuple[str, ...]] = {
    1: ("1", "no difficulty", "no", "none", "no_difficulty", "no, no difficulty"),
    2: ("2", "some difficulty", "some", "some_difficulty", "yes, some difficulty"),
    3: ("3", "a lot of difficulty", "a lot", "alot", "a_lot", "a_lot_of_difficulty", "lot",
        "yes, a lot of difficulty"),
    4: ("4", "cannot do at all", "cannot", "cannot do", "unable", "cannot_do_at_all", "cannot_do"),
}  # fmt: skip
#: answers that say the question was not answered (WG syntax codes 7, 8, 9 and their words)
MISSING_ANSWERS = ("7", "8", "9", "refused", "don't know", "dont know", "dont_know", "do_not_know", "dk",
                   "na", "n/a", "not answered", "no answer")  # fmt: skip
#: the names of the categories in a mapping's ``answers:``
CATEGORY_NAMES = {"no_difficulty": 1, "some_difficulty": 2, "a_lot_of_difficulty": 3, "cannot_do_at_all": 4}
MISSING, INVALID = 0, -1


def answer_labels(wg: WashingtonGroup | None = None) -> dict[str, int]:
    """Normalised label -> category (1-4), or 0 for a missing answer; the mapping's words added."""
    out = {normalise_label(label): code for code, labels in ANSWERS.items() for label in labels}
    out.update({normalise_label(label): MISSING for label in MISSING_ANSWERS})
    if wg is not None:
        for name, labels in wg.answers.items():
            code = CATEGORY_NAMES.get(name, MISSING)
            out.update({normalise_label(label): code for label in labels})
    return out


def _norm(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"\s+", " "))


def answer_codes(values: pa.Array | pa.ChunkedArray, labels: dict[str, int]) -> np.ndarray:
    """Each row's category (1-4), 0 when not answered (empty or a missing answer), -1 when unknown.

    The few distinct answers are read once each, then spread over the rows.

    >>> answer_codes(arrow.array(["A lot of difficulty", "", None, "no_difficulty", "maybe"]),
    ...              answer_labels()).tolist()
    [3, 0, 0, 1, -1]
    """
    coded = by_dictionary(values, lambda distinct: arrow.array(_answer_codes(distinct, labels), pa.int8()))
    return arrow.to_numpy(coded, np.int8)


def _answer_codes(values: pa.Array, labels: dict[str, int]) -> np.ndarray:
    keys = arrow.array([k.lower() for k in labels], pa.string())
    codes = np.array(list(labels.values()), dtype=np.int8)
    norm = _norm(values)
    idx = arrow.to_numpy(pc.index_in(norm, value_set=keys))
    empty = arrow.to_numpy(arrow.fill_null(pc.equal(pc.utf8_length(norm), arrow.scalar(0)), True))
    found = ~np.isnan(idx.astype(np.float64))
    out = np.full(len(norm), INVALID, dtype=np.int8)
    out[found] = codes[idx[found].astype(np.int64)]
    out[empty] = MISSING
    return out


@dataclass
class Derived:
    """One batch's derived status: values (null where unknown and dropped, or invalid)."""

    values: pa.Array
    unknown: np.ndarray  # the status is unknown (dropped when the rule says so)
    invalid: dict[str, np.ndarray]  # source column -> rows whose answer is not a WG answer


def derive_status(wg: WashingtonGroup, text: dict[str, pa.Array], n: int) -> Derived:
    """The disability status of each row of a batch from its six answers."""
    labels = answer_labels(wg)
    some = np.zeros(n, dtype=np.int8)
    lot = np.zeros(n, dtype=np.int8)
    cannot = np.zeros(n, dtype=np.int8)
    answered = np.zeros(n, dtype=np.int8)
    invalid: dict[str, np.ndarray] = {}
    for domain in WG_DOMAINS:
        column = wg.columns[domain]
        codes = answer_codes(text[column], labels)
        bad = codes == INVALID
        if bad.any():
            invalid[column] = bad
        some += codes >= 2
        lot += codes >= 3
        cannot += codes == 4
        answered += codes > 0
    met = {
        "disability1": some >= 1,
        "disability2": (some >= 2) | (lot >= 1),
        "disability3": lot >= 1,
        "disability4": cannot >= 1,
    }[wg.cutoff]
    without = ~met & (answered == len(WG_DOMAINS))
    unknown = ~met & ~without
    fill = None if wg.missing == "drop" else wg.missing.value
    values = arrow.array(np.where(met, wg.with_, np.where(without, wg.without, "")), pa.string())
    values = pc.if_else(arrow.array(unknown), arrow.scalar(fill, pa.string()), values)
    return Derived(values=values, unknown=unknown, invalid=invalid)


def drop_reason(wg: WashingtonGroup) -> str:
    """Why respondents with an unknown status are left out (the coverage report's words)."""
    return wg.reason or (
        f"Washington Group status unknown ({wg.cutoff}): a question is not answered (empty, "
        "refused or don't know) and no answered question meets the cut-off"
    )


def suggest(value: str, wg: WashingtonGroup) -> list[str]:
    """The WG answers closest to an unrecognised one."""
    labels = answer_labels(wg)
    close = difflib.get_close_matches(
        normalise_label(value), [k for k in labels if len(k) > 2], n=3, cutoff=0.5
    )
    return close
