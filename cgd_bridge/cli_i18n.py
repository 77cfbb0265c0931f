"""The command line's own texts in the person's language (#17): ``--help`` and click's usage errors.

The bridge's messages already follow ``--lang`` (:mod:`cgd_bridge.cli`); what click writes did
not: the help of every command (its docstring, the options' ``help=``, the headings, the
metavars) and click's own errors ("No such option", "Missing argument", "Try ... for help.").

Three parts, each in one place:

- :func:`language_of` decides the language before click parses anything: ``--lang X`` (or
  ``--lang=X``) anywhere in the arguments when a catalogue has it, else ``CGD_BRIDGE_LANG``, else
  the system's ``LC_ALL``/``LC_MESSAGES``/``LANG`` (:func:`default_translator`, which the CLI's
  own messages use too), else English. An unknown ``--lang`` does not decide the help's
  language; the command that reads it refuses it as before.
- :class:`Command` and :class:`Group` (the ``cli`` group's classes, which every command and
  subgroup inherits through ``command_class``/``group_class``) translate at the moment they
  write help: the docstring, the short help in a group's list, each option's ``help``, the type
  metavars (``TEXT``, ``PATH``, ``INTEGER``) and the usage line's ``[OPTIONS]``. The English texts
  are the message ids; ``cgd_bridge.cli.babel_extract`` walks the command tree for Babel, so a new
  command's help reaches the catalogue without marking each string.
- :func:`speaking` makes click's own texts come from our catalogue for the run. Click calls
  gettext for them, but each click module binds ``gettext.gettext``/``ngettext`` to its own
  names at import time, and the standard library's global domain reads ``.mo`` files from disk,
  while our catalogues are compiled in memory (:func:`cgd_bridge.i18n.catalogue`). So for the
  duration of a run in another language those bound names are pointed at our catalogue, and put
  back afterwards; in English nothing is touched. :data:`CLICK_TEXTS` lists click's message ids
  so Babel extracts them into our catalogue (a test compares it with the installed click's).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from cgd_bridge.i18n import DEFAULT, N_, Translator, nmsg, normalise, translator

#: the help of the ``--help`` option itself (click writes it in the language active when it
#: first builds the option and keeps it: we keep the message id there instead)
HELP_OPTION_TEXT = N_("Show this message and exit.")

#: click's texts a person reads (click 8.5, from its ``_()`` calls): the headings of the help,
#: the usage errors and their hints, the prompts. Programming errors (a command defined wrongly),
#: Windows console, editor and shell-completion messages are left out.
CLICK_TEXTS = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    HELP_OPTION_TEXT,
    N_("Show the version and exit."),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"),
    N_("Missing command."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Option {name!r} does not take a value."),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Could not open file {filename!r}: {message}"),
    N_("unknown error"),
    N_("Aborted!"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("required"),
    N_("(dynamic)"),
    N_("deprecated"),
    N_("Choose from:\n\t{choices}"),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("{value!r} is not a valid UUID."),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("{name} {filename!r} is not executable."),
    N_("Value must be an iterable."),
    N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."),
    N_("Error: invalid input"),
    N_("Do you want to continue?"),
    N_("Press any key to continue..."),
)

#: the words click puts into a type's error ("'x' is not a valid {number_type}.", "{name} 'x'
#: does not exist."): a type's name, fixed in English when the command is defined (a path
#: type's, ``_("file")``, is read then, before any ``--lang``), so translated when formatted
TYPE_WORDS = (
    N_("integer"),
    N_("integer range"),
    N_("float"),
    N_("float range"),
    N_("file"),
    N_("directory"),
    N_("path"),
)
#: click's texts that are given a type's name, and the parameter that names it
TYPE_TEMPLATES = {
    "{value!r} is not a valid {number_type}.": "number_type",
    "{name} {filename!r} does not exist.": "name",
    "{name} {filename!r} is a file.": "name",
    "{name} {filename!r} is a directory.": "name",
    "{name} {filename!r} is not readable.": "name",
    "{name} {filename!r} is not writable.": "name",
    "{name} {filename!r} is not executable.": "name",
}

#: click's texts whose form depends on a count (``ngettext``)
CLICK_PLURALS = (
    nmsg("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 2),
    nmsg("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 2),
    nmsg("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 2),
    nmsg("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 2),
    nmsg(
        "{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}.", 2
    ),
    nmsg("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given.", 2),
    nmsg(
        "{len_type} values are required, but {len_value} was given.",
        "{len_type} values are required, but {len_value} were given.",
        2,
    ),
)

#: the click modules that bind ``_`` (gettext) and ``ngettext`` at import time
CLICK_MODULES = (
    "click.core", "click.exceptions", "click.parser", "click.types", "click.formatting",
    "click.decorators", "click.termui", "click.utils", "click._termui_impl",
)  # fmt: skip

#: the translator click's texts and the help come from during a run (None: English)
_speaking: Translator | None = None


def language_of(args: Sequence[str]) -> str | None:
    """The value of the last ``--lang X`` or ``--lang=X`` in ``args`` (before a ``--``), or None."""
    found = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--lang="):
            found = arg.partition("=")[2]
    return found


def system_translator() -> Translator:
    """The translator of the system's ``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` when offered,
    else English."""
    env = next((os.environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(k)), "")
    return translator(normalise(env.split(".")[0]) or DEFAULT)


def default_translator() -> Translator:
    """Without ``--lang``: ``CGD_BRIDGE_LANG`` when offered, else the system's language."""
    chosen = normalise(os.environ.get("CGD_BRIDGE_LANG"))
    return translator(chosen) if chosen else system_translator()


def translator_for(args: Sequence[str]) -> Translator:
    """The language of a run's help and usage errors, decided from its arguments before click
    parses them: an offered ``--lang``, else :func:`default_translator`."""
    chosen = normalise(language_of(args))
    return translator(chosen) if chosen else default_translator()


class _TypeWordTemplate(str):
    """A translated click template whose type name (``TYPE_TEMPLATES``) is translated too when
    click formats it: ``File`` -> ``Faili``, keeping click's capital."""

    translator: Translator
    key: str

    def format(self, *args: Any, **values: Any) -> str:
        word = values.get(self.key)
        if isinstance(word, str) and word.lower() in TYPE_WORDS:
            said = self.translator.gettext(word.lower())
            values[self.key] = said[:1].upper() + said[1:] if word[:1].isupper() else said
        return str(self).format(*args, **values)


def _click_gettext(t: Translator) -> Callable[[str], str]:
    """The ``_`` click's modules call during a run in the language of ``t``."""

    def gettext_(message: str) -> str:
        said = t.catalogue.gettext(message)
        if message in TYPE_TEMPLATES:
            template = _TypeWordTemplate(said)
            template.translator, template.key = t, TYPE_TEMPLATES[message]
            return template
        return said

    return gettext_


def current() -> Translator:
    """The translator of the run (English outside :func:`speaking`)."""
    return _speaking or translator(DEFAULT)


@contextlib.contextmanager
def speaking(t: Translator) -> Iterator[None]:
    """For the ``with`` block: the help, and click's own texts, in the language of ``t``; the
    names click's modules had are restored after (nested blocks restore in turn)."""
    global _speaking
    import sys

    before = _speaking
    saved: list[tuple[Any, str, Any]] = []
    if t.lang != DEFAULT:
        gettext_ = _click_gettext(t)
        ngettext_: Callable[[str, str, int], str] = t.catalogue.ngettext
        for name in CLICK_MODULES:
            module = sys.modules.get(name)
            for attr, ours in (("_", gettext_), ("ngettext", ngettext_)):
                if module is not None and callable(getattr(module, attr, None)):
                    saved.append((module, attr, getattr(module, attr)))
                    setattr(module, attr, ours)
    _speaking = t
    try:
        yield
    finally:
        for module, attr, original in reversed(saved):
            setattr(module, attr, original)
        _speaking = before


def help_text(command: click.Command) -> str:
    """A command's help as click shows it (its docstring cleaned, cut at a form feed): the message id."""
    return inspect.cleandoc(command.help).partition("\f")[0] if command.help else ""


def type_metavar(param: click.Parameter, ctx: click.Context | None = None) -> str | None:
    """The metavar click derives from an option's type (``TEXT``, ``PATH``, ``INTEGER RANGE``),
    a message id; None when the option names its own or its type gives one (a choice's values)."""
    if not isinstance(param, click.Option) or param.metavar is not None or param.is_flag:
        return None
    if ctx is not None and param.type.get_metavar(param=param, ctx=ctx) is not None:
        return None
    return param.type.name.upper()


def _translated_param(param: click.Parameter, ctx: click.Context, t: Translator) -> click.Parameter:
    """A copy of ``param`` whose help and type metavar are in the language of ``t``."""
    shown = copy.copy(param)
    if param.help:
        shown.help = t.gettext(param.help)
    metavar = type_metavar(param, ctx)
    if metavar:
        shown.metavar = t.gettext(metavar) + ("..." if param.nargs != 1 else "")
    return shown


class Command(click.Command):
    """A command whose help is written in the run's language (:func:`current`)."""

    def _shown(self) -> click.Command:
        """A copy of the command with its help and usage metavars translated."""
        t = current()
        shown = copy.copy(self)
        text = help_text(self)
        shown.help = t.gettext(text) if text else self.help
        shown.short_help = t.gettext(self.short_help) if self.short_help else None
        shown.options_metavar = t.gettext(self.options_metavar) if self.options_metavar else None
        if isinstance(self, click.Group) and isinstance(shown, click.Group) and self.subcommand_metavar:
            shown.subcommand_metavar = t.gettext(self.subcommand_metavar)
        return shown

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION_TEXT  # the message id, whatever language built it first
        return option

    def get_short_help_str(self, limit: int = 45) -> str:
        return click.Command.get_short_help_str(self._shown(), limit)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        click.Command.format_help_text(self._shown(), ctx, formatter)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        shown = self._shown()
        pieces = type(self).collect_usage_pieces(shown, ctx)
        formatter.write_usage(ctx.command_path, " ".join(pieces))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        t = current()
        rows = []
        for param in self.get_params(ctx):
            if isinstance(param, click.Argument):
                continue
            record = _translated_param(param, ctx, t).get_help_record(ctx)
            if record is not None:
                rows.append(record)
        if rows:
            with formatter.section(t.gettext("Options")):
                formatter.write_dl(rows)


class Group(Command, click.Group):
    """A group whose help, and whose commands' and subgroups', is written in the run's language."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        Command.format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        """Run in the language the arguments choose (:func:`translator_for`)."""
        import sys

        argv = list(sys.argv[1:] if args is None else args)
        with speaking(translator_for(argv)):
            return super().main(argv, *rest, **kwargs)


def texts_of(group: click.Group) -> list[str]:
    """Every text the help of ``group`` and of its commands shows, as message ids: docstrings,
    short helps, options' helps, type metavars and the usage metavars (for Babel, and to check
    that each catalogue has them all)."""
    found: dict[str, None] = {}

    def walk(command: click.Command) -> None:
        for text in (help_text(command), command.short_help, command.options_metavar):
            if text:
                found[text] = None
        if isinstance(command, click.Group) and command.subcommand_metavar:
            found[command.subcommand_metavar] = None
        ctx = click.Context(command)
        for param in command.params:
            if param.help:
                found[param.help] = None
            metavar = type_metavar(param, ctx)
            if metavar:
                found[metavar] = None
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(group)
    return list(found)
