"""Every kind of error pydantic 2 raises for our field types reads in the person's language (#17).

The field types of our models and requests (the quality metadata, mappings, the JSON API's
bodies, queries and paths): texts with a pattern or a length, whole numbers and numbers with
bounds, dates, date-times, enums and literals, lists, dicts, booleans, tagged unions, unknown
and missing fields; and the web addresses and UUIDs a request may carry. For each error kind
(``type``) the test makes pydantic raise it on a field named ``sampling_note`` and shows it as
the server's 422 does (:func:`cgd_bridge.server.errors._validation_reasons`): in Swahili,
Nepali and Bangla no English word of the catalogue is left
(:class:`tests.support.untranslated.EnglishFinder`), the field is named, and the limit the
error carries (a bound, a length, the tag) is there in the language's digits. Then the real
metadata loader, the real mapping loader and the real HTTP endpoint, for the kinds they meet.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from typing import Annotated, Any, Literal

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import (
    UUID4,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    ValidationError,
    create_model,
)

from cgd_bridge.i18n import translator
from cgd_bridge.server.errors import _validation_reasons
from tests.support.untranslated import EnglishFinder


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Cat(BaseModel):
    kind: Literal["cat"]


class Dog(BaseModel):
    kind: Literal["dog"]


Pet = Annotated[Cat | Dog, Field(discriminator="kind")]
FIELD = "sampling_note"
#: kinds pydantic raises only when it reads JSON strictly (a request body's date read as JSON)
STRICT_JSON = {"date_parsing", "datetime_parsing"}

#: kind -> (the field's type, a value that raises it, the values of its ctx the text must show)
CASES: dict[str, tuple[Any, Any, tuple[str, ...]]] = {
    "missing": (str, ..., ()),
    "extra_forbidden": (None, None, ()),
    "json_invalid": (None, None, ()),
    "string_type": (str, 12345, ()),
    "string_too_short": (Annotated[str, Field(min_length=3)], "ab", ("3",)),
    "string_too_long": (Annotated[str, Field(max_length=4)], "abcdefg", ("4",)),
    "string_pattern_mismatch": (Annotated[str, Field(pattern=r"^\d+\.\d+$")], "v1", (r"^\d+\.\d+$",)),
    "int_type": (int, [1], ()),
    "int_parsing": (int, "many", ()),
    "int_from_float": (int, 2.5, ()),
    "int_parsing_size": (int, "9" * 5000, ()),
    "float_type": (float, [1], ()),
    "float_parsing": (float, "lots", ()),
    "finite_number": (Annotated[float, Field(allow_inf_nan=False)], float("inf"), ()),
    "greater_than": (Annotated[int, Field(gt=1000)], 7, ("1,000",)),
    "greater_than_equal": (Annotated[int, Field(ge=1)], 0, ("1",)),
    "less_than": (Annotated[float, Field(lt=3)], 9, ("3",)),
    "less_than_equal": (Annotated[int, Field(le=50)], 51, ("50",)),
    "multiple_of": (Annotated[int, Field(multiple_of=5)], 7, ("5",)),
    "bool_type": (bool, [True], ()),
    "bool_parsing": (bool, "sure", ()),
    "date_type": (dt.date, [1], ()),
    "date_parsing": (dt.date, "31/12/2024", ()),
    "date_from_datetime_parsing": (dt.date, "2024-13-45T10:00", ()),
    "date_from_datetime_inexact": (dt.date, "2024-12-31T10:00", ()),
    "date_past": (PastDate, dt.date(2999, 1, 1), ()),
    "date_future": (FutureDate, dt.date(2000, 1, 1), ()),
    "datetime_type": (dt.datetime, [1], ()),
    "datetime_parsing": (dt.datetime, "next week", ()),
    "datetime_from_date_parsing": (dt.datetime, "2024-02-30", ()),
    "datetime_past": (PastDatetime, dt.datetime(2999, 1, 1, tzinfo=dt.UTC), ()),
    "datetime_future": (FutureDatetime, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), ()),
    "timezone_naive": (NaiveDatetime, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), ()),
    "timezone_aware": (AwareDatetime, dt.datetime(2024, 1, 1), ()),
    "enum": (Colour, "green", ("red",)),
    "literal_error": (Literal["design", "collection"], "analysis", ("design",)),
    "list_type": (list[str], "a, b", ()),
    "tuple_type": (tuple[int, int], "1-2", ()),
    "set_type": (set[str], 3, ()),
    "too_short": (Annotated[list[str], Field(min_length=2)], ["a"], ("2",)),
    "too_long": (Annotated[list[str], Field(max_length=2)], ["a", "b", "c"], ("2",)),
    "dict_type": (dict[str, str], "a: b", ()),
    "model_type": (Cat, "cat", ()),
    "union_tag_invalid": (Pet, {"kind": "cow"}, ("kind", "cow")),
    "union_tag_not_found": (Pet, {"name": "Tom"}, ("kind",)),
    "none_required": (None, None, ()),
    "url_type": (AnyHttpUrl, 5, ()),
    "url_parsing": (AnyHttpUrl, "not a web address", ()),
    "url_scheme": (AnyHttpUrl, "ftp://example.org/", ("http",)),
    "url_too_long": (AnyHttpUrl, None, ("40",)),
    "uuid_type": (uuid.UUID, 5, ()),
    "uuid_parsing": (uuid.UUID, "not-a-uuid", ()),
    "uuid_version": (UUID4, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", ("4",)),
}


def _errors(kind: str) -> list[Any]:
    """The errors pydantic raises on the field ``sampling_note`` for ``kind``."""
    annotation, bad, _ = CASES[kind]
    model: type[BaseModel]
    data: Any
    if kind == "extra_forbidden":
        model = create_model("Request", __config__=ConfigDict(extra="forbid"), title=(str, ""))
        data = {FIELD: "x"}
    elif kind == "json_invalid":
        model = create_model("Request", **{FIELD: (str, ...)})  # type: ignore[call-overload]
        try:
            model.model_validate_json('{"sampling_note": ')
        except ValidationError as exc:
            return [{**e, "loc": (FIELD,)} for e in exc.errors()]
        raise AssertionError("no error")
    elif kind == "none_required":
        model = create_model("Request", **{FIELD: (None, ...)})  # type: ignore[call-overload]
        data = {FIELD: "x"}
    elif kind == "missing":
        model = create_model("Request", **{FIELD: (str, ...)})  # type: ignore[call-overload]
        data = {}
    elif kind == "url_too_long":
        from pydantic import UrlConstraints

        limited = Annotated[AnyHttpUrl, UrlConstraints(max_length=40)]
        model = create_model("Request", **{FIELD: (limited, ...)})  # type: ignore[call-overload]
        data = {FIELD: "http://example.org/" + "a" * 100}
    else:
        model = create_model("Request", **{FIELD: (annotation, ...)})  # type: ignore[call-overload]
        data = {FIELD: bad}
    try:
        if kind in STRICT_JSON:
            model.model_validate_json(json.dumps(data), strict=True)
        else:
            model.model_validate(data)
    except ValidationError as exc:
        return exc.errors()
    raise AssertionError(f"{kind}: no error")


@pytest.fixture(scope="module")
def finders() -> dict[str, EnglishFinder]:
    return {lang: EnglishFinder(lang, data={FIELD}) for lang in ("sw", "ne", "bn")}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_is_raised_as_named(kind: str) -> None:
    """The case raises the kind it is named for (else the test below would test another)."""
    assert kind in {e["type"] for e in _errors(kind)}, _errors(kind)


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_reads_in_the_language_and_names_the_field(
    kind: str, lang: str, finders: dict[str, EnglishFinder]
) -> None:
    errors = [e for e in _errors(kind) if e["type"] == kind]
    t = translator(lang)
    said = _validation_reasons(RequestValidationError(errors), t)
    assert said.startswith(f"{FIELD}: "), said
    left = finders[lang].english_in(said)
    assert not left, f"{kind} in {lang}: {left}"
    for value in CASES[kind][2]:
        shown = t.number(int(value.replace(",", ""))) if value.replace(",", "").isdigit() else value
        assert shown in said, (kind, value, said)


def test_english_keeps_the_limits_in_plain_words() -> None:
    from cgd_bridge.i18n import ENGLISH

    def said(kind: str) -> str:
        return _validation_reasons(RequestValidationError(_errors(kind)), ENGLISH)

    assert said("less_than_equal") == f"{FIELD}: it must be 50 or less"
    assert said("greater_than") == f"{FIELD}: it must be greater than 1,000"
    assert said("too_long") == f"{FIELD}: it must have at most 2 items"
    assert said("string_too_short") == f"{FIELD}: it must have at least 3 characters"
    assert said("union_tag_invalid") == (f"{FIELD}: its 'kind' is 'cow', which is not one of 'cat', 'dog'")
    assert said("literal_error") == (
        f"{FIELD}: it is not one of the values this field allows (allowed: 'design', 'collection')"
    )


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_the_metadata_loader_says_bounds_and_kinds_in_the_language(tmp_path, lang: str) -> None:
    """The real loader on a CSO's file: a count below its bound, a score above it, a date
    written the wrong way, a list given as a text; each finding names its field, no English."""
    from cgd_bridge.metadata.load import load_metadata

    path = tmp_path / "quality.yaml"
    path.write_text(
        "profile: cgd-quality/1.0\n"
        "sampling:\n  n_planned: -5\n"
        "privacy:\n  disclosure_risk_score: 7\n"
        "ownership:\n  validation_date: last week\n"
        "dataset:\n  languages: sw, en\n",
        encoding="utf-8",
    )
    md = load_metadata(path)
    invalid = {f.field: f for f in md.findings if f.code == "metadata-invalid-value"}
    assert set(invalid) >= {"sampling.n_planned", "ownership.validation_date", "dataset.languages"}, invalid
    t = translator(lang)
    finder = EnglishFinder(lang, data={"-5", "7", "'last week'", "'sw, en'", "sw, en", "last week"})
    for name, f in invalid.items():
        problem, fix = f.texts(t)
        left = finder.english_in(f"{problem}\n{fix}")
        assert not left, (name, left)
    assert t.number(0) in invalid["sampling.n_planned"].texts(t)[0]
    english = invalid["sampling.n_planned"].texts()[0]
    assert "it must be 0 or more" in english, english


@pytest.mark.parametrize("lang", ["sw", "bn"])
def test_the_http_api_says_each_field_and_kind_in_the_language(lang: str, tmp_path) -> None:
    """The real server: an embargo date that is no date-time, a version id out of its range."""
    from fastapi.testclient import TestClient

    from cgd_bridge.server.app import create_app
    from cgd_bridge.server.demo import seed
    from cgd_bridge.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0))
    with TestClient(app) as client:
        with app.state.bridge.sessions() as session:
            keys = seed(session, app.state.bridge.structures, examples=()).keys
        headers = {"Authorization": f"Bearer {keys['amina']}", "Accept-Language": lang}
        r = client.put("/api/versions/1/embargo", json={"until": "next week"}, headers=headers)
        assert r.status_code == 422, r.text[:300]
        message = str(r.json()["error"]["message"])
        assert "body.until" in message
        finder = EnglishFinder(lang, data={"body.until", "path.version_id"})
        assert not finder.english_in(message), finder.english_in(message)
        r = client.get("/api/versions/0", headers=headers)
        assert r.status_code == 422, r.text[:300]
        message = str(r.json()["error"]["message"])
        assert "version_id" in message
        assert translator(lang).number(1) in message
        assert not finder.english_in(message), finder.english_in(message)
