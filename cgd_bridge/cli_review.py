"""The interactive review of a drafted mapping in the terminal (``mapping init --interactive``, #18).

Each uncertain choice of the draft (:meth:`cgd_bridge.mapping.draft.Draft.questions`) is asked
in turn: first every dimension whose column or fixed code is below 80 % sure, each column of a
few categories no dimension reads, TIME_PERIOD's source and the measure when they are below 80 %
sure, then, on the draft remade with those answers, every label whose code is. The top
candidates are shown with their names and confidence, and chosen with the keyboard:

- **Enter** accepts the draft's proposal; **a number** picks that candidate;
- **the arrow keys** move through the candidates (a menu open under the prompt), Enter takes one;
- **typing** searches the codelist by code or name (and, for a dimension, the data's columns),
  the matches listed in the menu as you type; Enter on a text that is no code lists the closest
  codes, numbered, to pick from; ``=CODE`` is a code even when it looks like a number or a key;
- **s** skips (the proposal stays in the file, marked CONFIRM); **q** (or Ctrl-C, Ctrl-D) quits
  without writing anything.

The answers become :class:`~cgd_bridge.mapping.draft.Decisions`, the mapping is drafted once
more with them (each answer commented "chosen in the review"), validated against the data and
the DSD by :func:`cgd_bridge.pipeline.validate` (the real validation, as ``cgd-bridge validate``
runs it), and only then written; when validation finds errors they are listed and the file is
written only if the person says so.

The prompts are prompt_toolkit's (a maintained library, IPython's prompt): a line editor with a
completion menu, so arrows, search and typing work in any terminal, Windows' too. The answer
logic (:func:`parse`, :func:`search`, :func:`review`) is separate from the terminal, so it is
tested without one; the whole command is tested under a pseudo-terminal.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from rapidfuzz import fuzz, process

from cgd_bridge.i18n import ENGLISH, N_, Translator
from cgd_bridge.mapping.draft import (
    MEASURE,
    PERIOD,
    TIME,
    Candidate,
    Decisions,
    Draft,
    Question,
    choice_of,
    describe,
    normalise,
    spec_of,
)

#: the candidates shown (and numbered) per question
SHOWN = 9


class Quit(Exception):
    """The person quit the review (``q``, Ctrl-C, Ctrl-D): nothing is written."""


@dataclass
class Search:
    """A typed text that is no answer: the closest choices, to pick from."""

    text: str
    found: list[Candidate]


Answer = str | None | Search  # a choice ("column:NAME", "value:CODE", a code), None: skip


def _choices(q: Question, columns: list[str]) -> dict[str, str]:
    """Every answer ``q`` can take, by the text it is chosen with -> its name."""
    if q.label is not None:
        return dict(q.codes)
    if not q.dimension:  # which dimension is this column?
        return {f"dimension:{d}": name for d, name in q.codes.items()}
    if q.dimension == TIME:  # the candidates, and any column read as years
        out = {choice_of(TIME, {"column": c, "format": "year"}): f"column '{c}' (year)" for c in columns}
        return out | {c.choice: c.name for c in q.candidates}
    if q.dimension == MEASURE:
        return {c.choice: c.name for c in q.candidates}
    out = {f"column:{c}": c for c in columns}
    out.update({f"value:{code}": name for code, name in q.codes.items()})
    return out


def search(q: Question, text: str, columns: list[str], limit: int = SHOWN) -> list[Candidate]:
    """The choices whose code, name or column name holds ``text`` (case- and accent-blind),
    then the closest by name (rapidfuzz)."""
    choices = _choices(q, columns)
    needle = normalise(text) or text.casefold().strip()
    if not needle:
        return []
    found: dict[str, Candidate] = {}
    for choice, name in choices.items():
        bare = choice.split(":", 1)[-1]
        if needle == bare.casefold():
            found[choice] = Candidate(choice, name, 1.0, "the code")
        elif needle in normalise(bare) or needle in normalise(name):  # the closest of these first
            score = fuzz.WRatio(needle, normalise(name)) / 100
            found[choice] = Candidate(choice, name, round(0.5 + 0.45 * score, 2), "holds it")
    if len(found) < limit:
        names = {choice: normalise(name) for choice, name in choices.items() if choice not in found}
        for _, score, choice in process.extract(needle, names, scorer=fuzz.WRatio, limit=limit - len(found)):
            if score >= 60:
                found[choice] = Candidate(choice, choices[choice], round(score / 100, 2), "close")
    return sorted(found.values(), key=lambda c: -c.confidence)[:limit]


def parse(q: Question, text: str, candidates: list[Candidate], columns: list[str]) -> Answer:
    """What a typed answer means (see the module's docstring).

    Raises:
        Quit: ``q``.
    """
    typed = text.strip()
    low = typed.casefold()
    if low == "q":
        raise Quit
    if low == "s":
        return None
    if not typed:
        return q.proposed if q.proposed and not q.proposed.endswith(":CONFIRM") else None
    if typed.isdigit() and 1 <= int(typed) <= len(candidates):
        return candidates[int(typed) - 1].choice
    choices = _choices(q, columns)
    exact = typed[1:] if typed.startswith("=") else typed
    if q.dimension == TIME:
        got = _time_answer(q, exact, columns)
        if got is not None:
            return got
    by_text = {c.casefold(): c for c in choices}
    for form in (exact, f"value:{exact}", f"column:{exact}", f"dimension:{exact}"):
        if form.casefold() in by_text:
            return by_text[form.casefold()]
    return Search(typed, search(q, exact, columns))


def _time_answer(q: Question, typed: str, columns: list[str]) -> str | None:
    """A typed TIME_PERIOD answer: a period (one for every row), or a column's name (the format
    the draft found for it, else years)."""
    if PERIOD.match(typed):
        return choice_of(TIME, {"value": typed})
    for c in q.candidates:
        if (spec_of(c.choice) or {}).get("column", "").casefold() == typed.casefold():
            return c.choice
    named = next((c for c in columns if c.casefold() == typed.casefold()), None)
    return choice_of(TIME, {"column": named, "format": "year"}) if named else None


def review(
    redraft: Callable[[Decisions], Draft],
    ask: Callable[[Question, list[Candidate], int, int], str],
    say: Callable[[str], None],
    t: Translator = ENGLISH,
) -> Draft:
    """Ask every uncertain choice (dimensions first, then labels on the draft remade with those
    answers) and return the draft made with all the answers.

    ``ask(question, candidates, number, of)`` returns the text typed; ``say`` shows a line.

    Raises:
        Quit: the person quit.
    """
    decisions = Decisions()
    draft = redraft(decisions)
    for kind in ("column", "label"):
        questions = draft.questions(kind)
        if not questions:
            continue
        for n, q in enumerate(questions, 1):
            got = _ask_one(q, draft.data_columns, ask, say, n, len(questions), t)
            if got is None:
                continue
            if not q.dimension and q.column:  # a column no dimension read: the one chosen
                decisions.columns[got.split(":", 1)[1]] = f"column:{q.column}"
            elif q.dimension == TIME:
                decisions.time = spec_of(got)
            elif q.dimension == MEASURE:
                decisions.value = spec_of(got)
            elif q.label is None:
                decisions.columns[q.dimension] = got
            else:
                decisions.labels[(q.dimension, q.label)] = got
        draft = redraft(decisions)
    return draft


def _ask_one(
    q: Question,
    columns: list[str],
    ask: Callable[[Question, list[Candidate], int, int], str],
    say: Callable[[str], None],
    n: int,
    of: int,
    t: Translator = ENGLISH,
) -> str | None:
    candidates = q.candidates[:SHOWN]
    while True:
        got = parse(q, ask(q, candidates, n, of), candidates, columns)
        if not isinstance(got, Search):
            return got
        if not got.found:
            say(
                t.gettext(
                    N_("Nothing matches '{text}'; type another code or name, a number, s or q."),
                    text=_safe(got.text),
                )
            )
            continue
        candidates = got.found
        say(
            t.gettext(N_("Codes like '{text}':"), text=_safe(got.text))
            if q.label is not None
            else t.gettext(N_("Answers like '{text}':"), text=_safe(got.text))
        )


def _safe(text: str) -> str:
    """Text from the data for the terminal: control characters (an escape sequence in a label
    would drive the terminal) and line breaks become spaces."""
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def show(q: Question, candidates: list[Candidate], n: int, of: int, t: Translator = ENGLISH) -> str:
    """A question as the terminal shows it, its candidates numbered; what comes from the data is
    made safe to print (:func:`_safe`)."""
    q = Question(q.dimension, _safe(q.label) if q.label is not None else None,
                 _safe(q.column) if q.column is not None else None, q.proposed, q.confidence, _safe(q.why),
                 q.candidates, q.codes)  # fmt: skip
    if not q.dimension:
        head = t.gettext(
            N_("Column '{column}' is not used: which dimension is it? (s: none)"), column=q.column
        )
    elif q.dimension == TIME:
        head = t.gettext(N_("TIME_PERIOD: which column, or which period for every row (e.g. 2024)?"))
    elif q.dimension == MEASURE:
        head = t.gettext(N_("OBS_VALUE: which measure?"))
    elif q.label is None:
        head = t.gettext(N_("{dimension}: which column, or which code for every row?"), dimension=q.dimension)
    else:
        head = t.gettext(
            N_("{dimension}: '{label}' in column '{column}' is which code?"),
            dimension=q.dimension,
            label=q.label,
            column=q.column,
        )
    head = f"[{t.number(n)}/{t.number(of)}] {head}"
    if q.proposed:
        said = t.gettext(
            N_("The draft proposes {choice} ({percent} sure: {why})."),
            choice=_choice(q.proposed, t),
            percent=_percent(q.confidence, t),
            why=q.why,
        )
    else:
        said = t.gettext(N_("The draft proposes nothing: {why}."), why=q.why)
    lines = [head, f"  {said}"]
    for i, c in enumerate(candidates, 1):
        lines.append(
            f"  {i}) {_safe(_choice(c.choice, t)):30} {_safe(c.name)[:50]:50} {_percent(c.confidence, t):>4}"
        )
    keys = t.gettext(
        N_(
            "Enter: the proposal   1-9 or arrows: a candidate   type: "
            "search codes and names   s: skip   q: quit"
        )
    )
    lines.append(f"  {keys}")
    return "\n".join(lines)


def _percent(share: float, t: Translator) -> str:
    """``share`` (0-1) as a whole percentage the way the locale writes it."""
    return t.percent(round(share, 2))


def _choice(choice: str, t: Translator = ENGLISH) -> str:
    spec = spec_of(choice)
    if spec is not None:
        return describe(spec)
    kind, _, what = choice.partition(":")
    if kind == "column" and what:
        return t.gettext(N_("column '{name}'"), name=what)
    if kind == "value" and what:
        return t.gettext(N_("code {code}"), code=what)
    if kind == "dimension" and what:
        return what
    return choice


class _Menu(Completer):
    """The completion menu under the prompt: the candidates, numbered, while nothing is typed
    (the arrows move through them), else the codes, names and columns matching what is typed."""

    def __init__(
        self, q: Question, candidates: list[Candidate], columns: list[str], t: Translator = ENGLISH
    ) -> None:
        self.q, self.candidates, self.columns, self.t = q, candidates, columns, t

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        typed = text.strip()
        if typed.casefold() in ("s", "q") or (typed.isdigit() and int(typed) <= len(self.candidates)):
            return
        shown = self.candidates if not typed else search(self.q, typed.lstrip("="), self.columns, 20)
        for i, c in enumerate(shown, 1):
            label = ("" if typed else f"{i}) ") + _safe(_choice(c.choice, self.t))
            yield Completion(
                c.choice, start_position=-len(text), display=label, display_meta=_safe(c.name)[:60]
            )


class Terminal:
    """The questions asked in this terminal with prompt_toolkit."""

    def __init__(self, t: Translator = ENGLISH) -> None:
        self.session: PromptSession[str] = PromptSession()
        self.columns: list[str] = []  # the data's columns, that a dimension's answer can name
        self.t = t

    def ask(self, q: Question, candidates: list[Candidate], n: int, of: int) -> str:
        click.echo("\n" + show(q, candidates, n, of, self.t))
        buffer = self.session.default_buffer
        try:
            return self.session.prompt(
                "> ",
                completer=_Menu(q, candidates, self.columns, self.t),
                complete_while_typing=True,
                pre_run=lambda: buffer.start_completion(select_first=False),
            )
        except (KeyboardInterrupt, EOFError):
            raise Quit from None

    def yes(self, message: str) -> bool:
        try:
            said = self.session.prompt(message).strip().casefold()
        except (KeyboardInterrupt, EOFError):
            return False
        # y and yes always, and the language's own word for yes (its first letter may be another
        # language's no: the n of the Swahili ndiyo)
        return said in ("y", "yes", self.t.gettext(N_("yes")).casefold())


def run_review(
    redraft: Callable[[Decisions], Draft],
    *,
    data: Path,
    form: Path | None,
    sheet: str | None,
    structures: Any,
    output: Path,
    t: Translator = ENGLISH,
) -> int:
    """The review in this terminal, the validation, and the file written: the exit code (0
    written, 1 nothing written)."""
    from cgd_bridge.atomic import write_bytes_atomic
    from cgd_bridge.findings import Severity
    from cgd_bridge.pipeline import validate

    terminal = Terminal(t)

    def remade(decisions: Decisions) -> Draft:
        d = redraft(decisions)
        terminal.columns = d.data_columns
        return d

    click.echo(
        t.gettext(N_("Reviewing the draft: each choice below 80 % sure, dimensions first, then labels."))
    )
    try:
        drafted = review(remade, terminal.ask, click.echo, t)
    except Quit:
        click.echo(t.gettext(N_("Quit: nothing written.")))
        return 1
    text = drafted.to_yaml()
    trial = output.parent / f".{output.name}.review-{os.getpid()}.yaml"
    try:
        trial.write_text(text, encoding="utf-8")
        report = validate(data, mapping=trial, form=form, sheet=sheet, structures=structures)
    finally:
        trial.unlink(missing_ok=True)
    if not report.valid:
        click.echo(
            t.ngettext(
                "The mapping does not validate: {n} error.",
                "The mapping does not validate: {n} errors.",
                report.error_count,
            )
        )
        for code, severity, count, examples in report.by_code():
            if severity == Severity.ERROR:
                problem = examples[0].texts(t)[0] if examples else ""
                click.echo(f"  - {code} ({t.number(count)}): {problem}")
        if not terminal.yes(t.gettext(N_("Write it anyway, to fix by hand? [y/N] "))):
            click.echo(t.gettext(N_("Nothing written.")))
            return 1
        write_bytes_atomic(output, text.encode("utf-8"))
        click.echo(
            t.gettext(
                N_(
                    "Written to {output}; fix the errors, then run "
                    "'cgd-bridge validate {data} --mapping {output}'."
                ),
                output=output,
                data=data,
            )
        )
        return 0
    write_bytes_atomic(output, text.encode("utf-8"))
    left = len(drafted.uncertain())
    said = t.gettext(
        N_("The mapping validates against the data and {dataflow} ({warnings}); written to {output}."),
        dataflow=drafted.mapping["dataflow"],
        warnings=t.ngettext("{n} warning", "{n} warnings", report.warning_count),
        output=output,
    )
    if left:
        said += " " + t.ngettext(
            "{n} choice skipped stays marked CONFIRM.",
            "{n} choices skipped stay marked CONFIRM.",
            left,
        )
    click.echo(said)
    return 0
