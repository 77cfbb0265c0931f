"""An XLSForm as cgd-bridge reads it: its questions and choice lists.

:func:`cgd_bridge.ingest.kobo.read_xlsform` builds it from the form's file.

A module of its own so that what carries a form (``table.SourceTable``) and what reads one
(``kobo``) import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Question:
    """One XLSForm question (a row of the ``survey`` sheet that yields a column)."""

    name: str
    type: str
    list_name: str | None = None
    label: str | None = None
    path: tuple[str, ...] = ()
    in_repeat: bool = False
    labels: tuple[str, ...] = ()  # the label in every language the form carries

    @property
    def base_type(self) -> str:
        """``select_one``, ``select_multiple``, ``integer`` …"""
        return self.type.split()[0] if self.type else ""


@dataclass
class XLSForm:
    """The parts of an XLSForm that matter for reading its exports."""

    file: str
    questions: dict[str, Question]
    choices: dict[str, dict[str, list[str]]]  # list_name -> choice name -> labels (all languages)
    form_id: str | None = None
    version: str | None = None
    has_repeats: bool = False
    groups: set[str] = field(default_factory=set)

    def choice_names(self, question: Question) -> list[str]:
        """The choice names of a select question, in form order."""
        return list(self.choices.get(question.list_name or "", {}))

    def label_to_name(self, question: Question) -> dict[str, str]:
        """Every label (in every language, case-folded) and name -> the choice name."""
        out: dict[str, str] = {}
        for name, labels in self.choices.get(question.list_name or "", {}).items():
            for label in labels:
                out.setdefault(label.strip().casefold(), name)
            out[name.casefold()] = name
        return out
