"""Primary suppression: which cells may not be published as they are, and why (#12).

One function, :func:`primary_rules`, decides it from the numbers of people behind each cell,
for the cell table of the source (:func:`cgd_bridge.checks.disclosure.suppress_cells`) and for
the mapped observations (:func:`cgd_bridge.checks.disclosure.suppress_observations`) alike, so
the same survey is suppressed the same way whether it arrives as microdata or as an aggregate
table. With k the threshold (:func:`threshold_in_force`) and g the group size (default 2k), a
cell is suppressed when:

1. ``small-cell``: a count or a denominator is 1 to k-1 (3 respondents in a county);
2. ``small-cell``: the numerator of a proportion is 1 to k-1 (2 of 30 satisfied: the 2 are few
   enough to be recognised, whatever the size of the group);
3. ``small-complement``: the denominator minus the numerator is 1 to k-1 (38 of 40 satisfied:
   the 2 who were not are few enough to be recognised);
4. ``group-disclosure``: 0 % or 100 % of a group of fewer than g people (all 8 women in a
   village satisfied: the figure tells what each of them answered).

Rules 2 to 4 need the numerator and the denominator of the same cell: the ``count`` and its
``denominator`` columns of aggregate data, the respondents meeting ``where`` among those meeting
``of`` for a proportion computed from microdata. A published value whose numerator is not in
the data (a percentage column beside a respondents count) gets rule 1 only: the bridge cannot
tell a percentage from a mean or a score. docs/attribute-disclosure.md says it for CSOs.

The threshold has a floor: below 3 it is refused (``threshold-too-low``, an error: 1 would
publish every single person), 3 and 4 are allowed with a warning (``threshold-low``), and the
report states the threshold in force and where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from cgd_bridge.checks.base import THRESHOLD_FLOOR, USUAL_THRESHOLD, Context
from cgd_bridge.findings import Severity, register
from cgd_bridge.i18n import N_, msg, nmsg
from cgd_bridge.i18n import num as number

SMALL_CELL = register(
    "small-cell", Severity.WARNING, "privacy", "Small cell",
    """A count, a denominator or the numerator of a proportion is below the disclosure
    threshold (default 5; set privacy.disclosure_control.threshold). So few people can be
    recognised; the cell must be suppressed: it will be published without a value, as
    OBS_STATUS Q and CONF_STATUS C.""",
)  # fmt: skip
SMALL_COMPLEMENT = register(
    "small-complement", Severity.WARNING, "privacy", "Few people did not",
    """Almost everyone in the cell meets the condition: the people who do not (the denominator
    minus the count, e.g. the 2 of 40 respondents who were not satisfied) are fewer than the
    disclosure threshold, so they can be recognised. The cell is suppressed (OBS_STATUS Q,
    CONF_STATUS C).""",
)  # fmt: skip
GROUP_DISCLOSURE = register(
    "group-disclosure", Severity.WARNING, "privacy", "Everyone in a small group answered alike",
    """0 % or 100 % of a group smaller than the group size (default twice the threshold; set
    privacy.disclosure_control.group_size): publishing it tells what every member of the group
    answered. The cell is suppressed (OBS_STATUS Q, CONF_STATUS C).""",
)  # fmt: skip
THRESHOLD_TOO_LOW = register(
    "threshold-too-low", Severity.ERROR, "privacy", "Disclosure threshold below 3",
    """The disclosure threshold is 1 or 2, which would publish cells of one or two people. The
    bridge never applies less than 3: fix the threshold (5 is usual; 3 only where the MoU with
    the NSO allows it).""",
)  # fmt: skip
THRESHOLD_LOW = register(
    "threshold-low", Severity.WARNING, "privacy", "Disclosure threshold below 5",
    """The disclosure threshold is 3 or 4. Most statistics offices require at least 5; use
    3 or 4 only where the MoU with the NSO allows it.""",
)  # fmt: skip

FLOOR = THRESHOLD_FLOOR  # the smallest threshold the bridge applies
USUAL = USUAL_THRESHOLD  # the usual minimum; below it a warning


class Rule(IntEnum):
    """Why a cell is suppressed (0: it is not)."""

    NONE = 0
    SMALL_COUNT = 1
    SMALL_NUMERATOR = 2
    SMALL_COMPLEMENT = 3
    WHOLE_GROUP = 4


CODES = {
    Rule.SMALL_COUNT: SMALL_CELL,
    Rule.SMALL_NUMERATOR: SMALL_CELL,
    Rule.SMALL_COMPLEMENT: SMALL_COMPLEMENT,
    Rule.WHOLE_GROUP: GROUP_DISCLOSURE,
}


@dataclass(frozen=True)
class Limits:
    """The sizes the rules use.

    Attributes:
        threshold: k, the smallest number of people a published figure may rest on, e.g. 5.
        group_size: g, the smallest group whose 0 % or 100 % may be published, e.g. 10.
    """

    threshold: int = USUAL
    group_size: int = 2 * USUAL

    @classmethod
    def of(cls, threshold: int, group_size: int | None = None) -> Limits:
        """The limits for ``threshold``, the group size defaulting to twice it."""
        return cls(threshold, max(group_size or 2 * threshold, threshold))


def primary_rules(
    limits: Limits,
    counts: Sequence[np.ndarray] = (),
    pairs: Sequence[tuple[np.ndarray, np.ndarray]] = (),
) -> np.ndarray:
    """The primary rule that suppresses each cell (a :class:`Rule` per row as int8; 0: publish).

    Args:
        limits: the threshold and the group size.
        counts: numbers of people to test with rule 1 (counts, denominators, respondents).
        pairs: ``(numerator, denominator)`` of proportions, for rules 2 to 4.
            Empty (NaN) numbers meet no rule.

    When several rules apply, the first in the order of :class:`Rule` is given.

    >>> primary_rules(Limits(5, 10), [np.array([30, 40, 8, 3])],
    ...               [(np.array([2, 38, 8, 1]), np.array([30, 40, 8, 3]))]).tolist()
    [2, 3, 4, 1]
    """
    n = len(counts[0]) if counts else len(pairs[0][0]) if pairs else 0
    k = limits.threshold
    rule = np.zeros(n, dtype=np.int8)

    def small(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.asarray((x > 0) & (x < k), dtype=bool)

    def take(mask: np.ndarray, r: Rule) -> None:
        rule[(rule == 0) & mask] = r

    for c in counts:
        take(small(np.asarray(c, dtype=np.float64)), Rule.SMALL_COUNT)
    floats = [(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)) for a, b in pairs]
    for _, den in floats:
        take(small(den), Rule.SMALL_COUNT)
    for num, _ in floats:
        take(small(num), Rule.SMALL_NUMERATOR)
    for num, den in floats:
        take(small(den - num), Rule.SMALL_COMPLEMENT)
    for num, den in floats:
        with np.errstate(invalid="ignore"):
            whole = (den > 0) & (den < limits.group_size) & ((num == 0) | (num == den))
        take(np.asarray(whole, dtype=bool), Rule.WHOLE_GROUP)
    return rule


def explain(
    rule: int,
    limits: Limits,
    where: dict[str, Any],
    *,
    count: float | None,
    numerator: float | None,
    denominator: float | None,
    merge: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem and the fix of a cell suppressed by ``rule``, in plain words for a CSO, as
    composed messages (:func:`~cgd_bridge.i18n.msg`, translated where the report is shown).

    ``where`` names the cell, e.g. ``msg("the observation {key}", key="SEX=F, URBANISATION=U")``;
    ``count`` is the number of people the cell rests on (rule 1), ``numerator`` and
    ``denominator`` those of its proportion (rules 2 to 4); ``merge`` the advice to merge
    (default: categories or areas).
    """
    k, g = number(limits.threshold), number(limits.group_size)
    n, d = number(_plain(numerator)), number(_plain(denominator))
    merge = merge or msg(N_("Merge categories or areas if the figure is needed."))
    fix = msg(N_("It is published without a value (OBS_STATUS Q, CONF_STATUS C). {merge}"), merge=merge)
    if rule == Rule.SMALL_COUNT:
        problem = msg(
            N_("{where} rests on {respondents}: below the threshold of {k}, so they could be recognised"),
            where=where,
            respondents=nmsg("{n} respondent", "{n} respondents", _plain(count)),
            k=k,
        )
        return problem, fix
    if rule == Rule.SMALL_NUMERATOR:
        problem = msg(
            N_(
                "{where} is {num} of {den} respondents: {num} is below the threshold of {k}, so those few "
                "people could be recognised"
            ),
            where=where, num=n, den=d, k=k,
        )  # fmt: skip
        return problem, fix
    if rule == Rule.SMALL_COMPLEMENT:
        rest = number(_plain((denominator or 0) - (numerator or 0)))
        problem = msg(
            N_(
                "{where} is {num} of {den} respondents: only {rest} of the {den} did not, below the "
                "threshold of {k}, so those few people could be recognised"
            ),
            where=where, num=n, den=d, rest=rest, k=k,
        )  # fmt: skip
        return problem, fix
    text = (
        N_(
            "{where} is {num} of {den} respondents: all {den} gave the same answer, in a group smaller "
            "than {g} (the group size), so the figure tells what each of them answered"
        )
        if numerator == denominator
        else N_(
            "{where} is {num} of {den} respondents: none of the {den} gave that answer, in a group "
            "smaller than {g} (the group size), so the figure tells what each of them answered"
        )
    )
    fix = msg(
        N_(
            "It is published without a value (OBS_STATUS Q, CONF_STATUS C). {merge} Or set "
            "privacy.disclosure_control.group_size if the NSO agrees to a smaller one."
        ),
        merge=merge,
    )
    return msg(text, where=where, num=n, den=d, g=g), fix


def _plain(v: float | None) -> float:
    """A count as a number for a message (0 when unknown)."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return f if f == f else 0


# -- the threshold in force ---------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """The threshold a run applies and where it came from.

    Attributes:
        value: the threshold in force (never below :data:`FLOOR`), e.g. 5.
        declared: the threshold as given, e.g. 1.
        source: ``privacy.disclosure_control.threshold`` (the metadata), ``--threshold``
            (the run's option) or ``default``.
        group_size: the group size in force, e.g. 10.
    """

    value: int
    declared: int
    source: str
    group_size: int


METADATA_FIELD = "privacy.disclosure_control.threshold"


def threshold_in_force(ctx: Context) -> Threshold:
    """The metadata's threshold, else the run's option, never below :data:`FLOOR`."""
    declared, source = ctx.declared_threshold
    return Threshold(ctx.threshold, declared, source, ctx.group_size)


def check_threshold(ctx: Context) -> Threshold:
    """Report a threshold below the floor (error) or below the usual 5 (warning); return it."""
    t = threshold_in_force(ctx)
    if t.declared >= USUAL:
        return t
    too_low = t.declared < FLOOR
    code = THRESHOLD_TOO_LOW if too_low else THRESHOLD_LOW
    field = (
        METADATA_FIELD
        if t.source == METADATA_FIELD
        else "--threshold (or privacy.disclosure_control.threshold)"
    )
    params: dict[str, Any] = {"declared": t.declared, "floor": FLOOR, "usual": USUAL, "field": field}
    if too_low:
        problem = (
            N_(
                "the disclosure threshold is {declared}: cells of one person would be published; the bridge "
                "applies {floor}, its floor, instead"
            )
            if t.declared <= 1
            else N_(
                "the disclosure threshold is {declared}: cells of two people would be published; the bridge "
                "applies {floor}, its floor, instead"
            )
        )
        fix = N_("Set {field} to 5 (3 only where the MoU with the NSO allows it).")
    else:
        problem = N_(
            "the disclosure threshold is {declared}: most statistics offices require at least {usual}"
        )
        fix = N_("Keep {declared} only where the MoU with the NSO allows it; otherwise set it to {usual}.")
    details = {"threshold": t.value, "declared": t.declared, "source": t.source}
    if t.source == METADATA_FIELD and ctx.metadata is not None:
        ctx.report.add(ctx.metadata.finding(code, METADATA_FIELD, problem, fix, params, details=details))
    else:
        ctx.report.add(ctx.finding(code, problem, fix, params, field=None, details=details))
    return t
