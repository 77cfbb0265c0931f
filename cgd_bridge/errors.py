"""The one exception tree of cgd-bridge.

Exceptions are for "cannot continue" (an unreadable file, a broken mapping, bad arguments).
Problems *in* a CSO's data or metadata are not exceptions: checks yield them as
:class:`cgd_bridge.findings.Finding` objects and a :class:`~cgd_bridge.findings.Report`
collects them.

Every error carries what went wrong (``problem``), what to do about it (``fix``) and where
(``file``, ``row``, ``field``), so that the CLI and the server can show one plain sentence:
``{file}, row {row}, column '{field}': {problem}. {fix}``. ``status`` is the HTTP status the
server answers with.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from cgd_bridge.i18n import ENGLISH, N_, Translator


class CgdBridgeError(Exception):
    """Base class: anything cgd-bridge cannot continue after.

    Attributes:
        problem: what is wrong, e.g. ``"the file is not a CSV or XLSX file"``.
        fix: what the user should do, e.g. ``"Export the sheet as CSV (UTF-8) and try again."``.
        file: the file concerned, as the user named it (e.g. ``survey.xlsx``).
        row: the row as a spreadsheet shows it (header = row 1), if any.
        field: the column or metadata field, if any (e.g. ``sex`` or ``consent.obtained``).
        params: with them, ``problem`` and ``fix`` are message templates (marked with ``N_``)
            formatted with these values, and translated first where the error is shown in another
            language (:meth:`texts`); without, they are fixed texts, their own message ids.
            ``problem`` and ``fix`` hold the English.
    """

    status: int = 500
    title: str = N_("cgd-bridge error")

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.template: tuple[str, str] | None = None
        self.params: dict[str, Any] = params or {}
        if params is not None:
            self.template = (problem, fix or "")
            problem = ENGLISH.template(problem, params)
            fix = ENGLISH.template(fix, params) if fix else fix
        self.problem = problem
        self.fix = fix
        self.file = file
        self.row = row
        self.field = field
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The whole sentence shown to a user: where, what, and the fix."""
        return format_message(self.problem, self.fix, file=self.file, row=self.row, field=self.field)

    def texts(self, t: Translator = ENGLISH) -> tuple[str, str]:
        """``(problem, fix)`` in the language of ``t`` (English where its catalogue lacks them)."""
        if t is ENGLISH or t.lang == ENGLISH.lang:
            return self.problem, self.fix or ""
        if self.template is None:
            return t.gettext(self.problem), t.gettext(self.fix) if self.fix else ""
        return t.template(self.template[0], self.params), t.template(self.template[1], self.params)

    def sentence(self) -> dict[str, Any]:
        """The problem as a composed message (:func:`cgd_bridge.i18n.msg`), to quote it inside
        another message (a finding's) and still translate it."""
        from cgd_bridge.i18n import msg

        if self.template is not None:
            return msg(self.template[0], **self.params)
        return msg(self.problem)

    def message_in(self, t: Translator = ENGLISH) -> str:
        """The whole sentence (where, what, the fix) in the language of ``t``."""
        problem, fix = self.texts(t)
        return format_message(problem, fix, file=self.file, row=self.row, field=self.field, t=t)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with every attribute (a worker process sends its errors to the server)."""
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def to_dict(self, t: Translator = ENGLISH) -> dict[str, object]:
        """A JSON-ready view (used by ``--format json`` and the server), its texts in the language
        of ``t``."""
        problem, fix = self.texts(t)
        return {
            "type": type(self).__name__,
            "title": t.gettext(self.title),
            "status": self.status,
            "message": self.message_in(t),
            "problem": problem,
            "fix": fix or self.fix,
            "file": self.file,
            "row": self.row,
            "field": self.field,
        }


def _restore(cls: type[CgdBridgeError], args: tuple[Any, ...], state: dict[str, Any]) -> CgdBridgeError:
    """The error :meth:`CgdBridgeError.__reduce__` pickled, whatever its ``__init__`` takes."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


def format_message(
    problem: str,
    fix: str | None,
    *,
    file: str | None = None,
    row: int | None = None,
    field: str | None = None,
    line: int | None = None,
    t: Translator = ENGLISH,
) -> str:
    """Build the standard message ``{file}, row {row}, column '{field}': {problem}. {fix}``.

    ``line`` is for text files such as the metadata YAML, where a row makes no sense. The words
    around the place are in the language of ``t`` (``problem`` and ``fix`` come translated).
    """
    where = []
    if file:
        where.append(file)
    if row is not None:
        where.append(t.gettext(N_("row {row}"), row=row))
    if line is not None:
        where.append(t.gettext(N_("line {line}"), line=line))
    if field:
        where.append(
            t.gettext(N_("column '{field}'"), field=field)
            if "." not in field
            else t.gettext(N_("field '{field}'"), field=field)
        )
    text = problem[:1].upper() + problem[1:] if not where else problem
    # the full stop is the language's ("." or the danda "।" of Nepali and Bangla)
    text = t.gettext(N_("{sentence}."), sentence=text.rstrip(".।"))
    if where:
        text = ", ".join(where) + ": " + text
    if fix:
        text += " " + fix.strip()
    return text


def what_is_not_a_file(path: Path) -> str:
    """Why ``path`` cannot be read as a file, in the words of an error: it does not exist, or it
    is a folder, a named pipe, a device or a socket."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return N_("the file does not exist")
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return N_("this is a folder, not a file")
    if stat.S_ISFIFO(mode):
        return N_("this is a named pipe (FIFO), not a file")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return N_("this is a device, not a file")
    if stat.S_ISSOCK(mode):
        return N_("this is a socket, not a file")
    return N_("this is not a regular file")


class InputError(CgdBridgeError):
    """A data file cannot be read (missing, unreadable, wrong format, broken encoding)."""

    status = 400
    title = N_("Cannot read the input")


class TooLarge(InputError):
    """An input past one of the documented limits (a workbook's grid, a file's size): refused
    before the work that it would make unbounded."""

    status = 413
    title = N_("Input too large")


class TemplateError(CgdBridgeError):
    """A quality-metadata file cannot be read at all (not YAML/JSON, not a mapping)."""

    status = 400
    title = N_("Cannot read the quality metadata")


class MappingError(CgdBridgeError):
    """A mapping file is broken (unknown keys, bad Table Schema, unreadable YAML)."""

    status = 400
    title = N_("Cannot use the mapping")


class StructureError(CgdBridgeError):
    """An SDMX structure (codelist, DSD, dataflow) is missing or broken."""

    status = 400
    title = N_("Cannot use the SDMX structure")


class FormatError(CgdBridgeError):
    """An output format is unknown or cannot be written."""

    status = 400
    title = N_("Cannot write that format")


class UsageError(CgdBridgeError):
    """The command or request itself is wrong (bad option combination, unknown stage)."""

    status = 400
    title = N_("Bad arguments")


class Unauthorized(CgdBridgeError):
    """No valid credentials were given."""

    status = 401
    title = N_("Not signed in")


class Forbidden(CgdBridgeError):
    """The credentials do not allow this."""

    status = 403
    title = N_("Not allowed")


class NotFound(CgdBridgeError):
    """The thing asked for does not exist."""

    status = 404
    title = N_("Not found")


class Conflict(CgdBridgeError):
    """The request conflicts with the current state (e.g. a version that already exists)."""

    status = 409
    title = N_("Conflict")


class Overlapping(Conflict):
    """Publishing (or accepting) a version would give observations a second owner (#13).

    Attributes:
        overlap: the keys and periods shared, JSON-ready
            (:meth:`cgd_bridge.store.ownership.Overlap.to_dict`).
    """

    title = N_("Overlapping observations")

    def __init__(
        self,
        problem: str,
        *,
        overlap: dict[str, object],
        fix: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.overlap = overlap
        super().__init__(problem, fix=fix, params=params)

    def to_dict(self, t: Translator = ENGLISH) -> dict[str, object]:
        return {**super().to_dict(t), "overlap": self.overlap}


class StoreError(CgdBridgeError):
    """The database cannot be reached or refused the operation.

    ``retry_after`` (seconds, default 5) is the server's ``Retry-After``: the database is busy or
    away for now, the request itself is not wrong.
    ``internal`` is what only the operator should read (the database's URL without its password,
    the driver's reason): part of :attr:`message` (the CLI's error line, the server's log), never
    of :meth:`to_dict` nor ``problem``, which the server answers with.
    """

    status = 503
    title = N_("Storage unavailable")

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        internal: str | None = None,
        retry_after: float = 5.0,
        **where: Any,
    ) -> None:
        self.internal = internal
        super().__init__(problem, fix=fix, **where)
        #: a server answer's ``Retry-After`` (a busy or unreachable database: try again soon)
        self.headers = {"Retry-After": str(max(1, round(retry_after)))}

    @property
    def message(self) -> str:
        problem = f"{self.problem} ({self.internal})" if self.internal else self.problem
        return format_message(problem, self.fix, file=self.file, row=self.row, field=self.field)

    def to_dict(self, t: Translator = ENGLISH) -> dict[str, object]:
        out = super().to_dict(t)
        out["message"] = super().message_in(t)
        return out


class RateLimited(CgdBridgeError):
    """Too many requests from one API key or client in a short time."""

    status = 429
    title = N_("Too many requests")

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        retry_after: float = 1.0,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(problem, fix=fix, params=params)
        self.headers = {"Retry-After": str(max(1, round(retry_after)))}


class JobFailed(CgdBridgeError):
    """The worker process checking an upload stopped (a crash, an abort): that job fails, the
    server goes on (``server/jobs.py``)."""

    status = 422
    title = N_("The upload could not be processed")


class Busy(CgdBridgeError):
    """Every worker is busy: try again shortly (503 with ``Retry-After``)."""

    status = 503
    title = N_("Busy")

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        retry_after: float = 5.0,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(problem, fix=fix, params=params)
        self.headers = {"Retry-After": str(max(1, round(retry_after)))}


class Unavailable(CgdBridgeError):
    """Something this server lacks to answer (a font to draw a chart's PNG): the request is not
    wrong, and another form of the answer may be (503)."""

    status = 503
    title = N_("Not available on this server")
