"""The server's, the store's and backup's own errors in the person's language (#17).

Asked over HTTP with ``Accept-Language: sw`` or ``ne`` (or ``?lang=``), a body too large, a
``/metrics`` scrape refused, an address no route answers, an SDMX query naming an attribute or
a structure that does not exist are answered in that language, with no English sentence left
(:class:`tests.support.untranslated.EnglishFinder`), the type, status and SDMX code as they are,
and SDMX-ML keeping its English text beside the translated one. The identity provider's
refusals, the database's and backup's errors read the same way, also on the command line
(``cgd-bridge db restore`` has no ``--lang``: the locale or ``CGD_BRIDGE_LANG`` chooses).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import KeySet
from lxml import etree

from cgd_bridge.errors import CgdBridgeError, UsageError
from cgd_bridge.i18n import translator
from cgd_bridge.settings import Settings
from cgd_bridge.store import backup, db
from tests.support.paths import ROOT
from tests.support.untranslated import EnglishFinder
from tests.unit.server.test_web import Demo, _demo

V1 = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"
V2 = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0"
MES = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}"
COM = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with _demo(tmp_path_factory.mktemp("error-languages"), max_json_kb=16) as d:
        yield d


def no_english(lang: str, text: str, *shown: str) -> None:
    """``text`` holds no English sentence of the catalogue (``shown``: data it may quote)."""
    left = EnglishFinder(lang, data=set(shown)).english_in(text)
    assert not left, f"English left in the {lang} answer: {left}\n{text}"


def _error(r: object) -> dict[str, object]:
    error = r.json()["error"]  # type: ignore[attr-defined]
    assert isinstance(error, dict)
    return error


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_a_body_past_the_limit_is_refused_in_the_asked_language(demo: Demo, lang: str) -> None:
    body = b'{"comment": "' + b"Nakuru county totals checked. " * 1000 + b'"}'
    headers = {
        "Authorization": f"Bearer {demo.keys['kamau']}",
        "Content-Type": "application/json",
        "Accept-Language": f"{lang},en;q=0.5",
    }
    r = demo.client.post("/api/versions/1/accept", content=body, headers=headers)
    assert r.status_code == 413, r.text[:300]
    error = _error(r)
    assert error["type"] == "PayloadTooLarge"
    assert error["title"] == translator(lang)("Upload too large")
    assert "CGD_BRIDGE_MAX_JSON_KB" in str(error["message"])  # the setting is named as it is
    no_english(lang, str(error["message"]))
    english = _error(
        demo.client.post("/api/versions/1/accept", content=body, headers={**headers, "Accept-Language": "en"})
    )
    assert str(english["problem"]).startswith(
        f"the request ({len(body) / 1024:.1f} KiB) is larger than the 16 KiB"
    )
    assert "a JSON body" in str(english["problem"])


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_a_refused_metrics_scrape_and_an_unknown_address_say_so_in_the_language(
    demo: Demo, lang: str
) -> None:
    r = demo.client.get("/metrics", headers={"Accept-Language": lang})
    assert r.status_code == 403
    refused = _error(r)
    assert refused["type"] == "Forbidden"
    assert "CGD_BRIDGE_METRICS_ALLOW" in str(refused["fix"])
    no_english(
        lang, f"{refused['message']}\n{refused['title']}", "Authorization: Bearer <CGD_BRIDGE_METRICS_TOKEN>"
    )
    r = demo.client.get(f"/api/no-such-thing?lang={lang}")
    assert r.status_code == 404
    missing = _error(r)
    assert (missing["type"], missing["status"]) == ("HTTPError", 404)
    assert missing["problem"] == translator(lang)("there is nothing at {path}", path="/api/no-such-thing")
    no_english(lang, f"{missing['message']}\n{missing['title']}")
    # a route's own detail is quoted as it is, braces of the path asked for included (no 500)
    braces = demo.client.get("/static/swagger-ui/%7Bpath%7D.js", headers={"Accept-Language": lang})
    assert braces.status_code == 404, braces.text[:300]
    assert "/static/swagger-ui/{path}.js is not one of the Swagger UI files" in str(_error(braces)["problem"])
    plain = _error(demo.client.get("/api/no-such-thing"))
    assert plain["problem"] == "there is nothing at /api/no-such-thing"
    assert plain["title"] == "Not found"


def test_sdmx_errors_keep_the_english_and_add_the_asked_language(demo: Demo) -> None:
    r = demo.client.get(f"{V1}?attributes=NOT_AN_ATTRIBUTE", headers={"Accept-Language": "ne"})
    assert r.status_code == 400
    root = etree.fromstring(r.content)
    message = root.find(f"{MES}ErrorMessage")
    assert message is not None
    assert message.get("code") == "140"
    english = [t.text or "" for t in message.findall(f"{COM}Text") if t.get(XML_LANG) == "en"]
    assert english[0].startswith("attributes=NOT_AN_ATTRIBUTE: 'NOT_AN_ATTRIBUTE' is not an attribute of")
    nepali = [t.text or "" for t in message.findall(f"{COM}Text") if t.get(XML_LANG) == "ne"]
    assert len(nepali) == 2, r.text  # the problem and the fix
    assert "NOT_AN_ATTRIBUTE" in nepali[0]
    no_english("ne", "\n".join(nepali))
    # a structure that does not exist (its code is 100, no results), in Swahili
    r = demo.client.get("/sdmx/rest/codelist/all/CL_NOWHERE/latest", headers={"Accept-Language": "sw"})
    assert r.status_code == 404, r.text[:300]
    message = etree.fromstring(r.content).find(f"{MES}ErrorMessage")
    assert message is not None
    assert message.get("code") == "100"
    swahili = [t.text or "" for t in message.findall(f"{COM}Text") if t.get(XML_LANG) == "sw"]
    assert "CL_NOWHERE" in swahili[0]
    no_english("sw", "\n".join(swahili), "`cgd-bridge structures list`")
    # a path no SDMX resource answers
    r = demo.client.get("/sdmx/nowhere?lang=sw")
    assert r.status_code == 404
    message = etree.fromstring(r.content).find(f"{MES}ErrorMessage")
    assert message is not None
    swahili = [t.text or "" for t in message.findall(f"{COM}Text") if t.get(XML_LANG) == "sw"]
    assert swahili == [
        translator("sw")("there is nothing at {path}", path="/sdmx/nowhere"),
        translator("sw")("See docs/server.md for the SDMX REST paths."),
    ]
    no_english("sw", "\n".join(swahili))


def test_the_identity_providers_refusals_read_in_swahili_and_bangla() -> None:
    from cgd_bridge.server.web.oidc import OidcClient, SignInRefused, verify_id_token

    client = OidcClient(Settings(oidc_issuer="https://login.knbs.or.ke", oidc_client_id="bridge"))
    with pytest.raises(SignInRefused) as none_under_way:
        client.finish(None, state="s", code="c", redirect_uri="https://bridge.example/sign-in/oidc/callback")
    with pytest.raises(SignInRefused) as forged:
        verify_id_token(
            "not.a.token", keys=KeySet([]), issuer="https://login.knbs.or.ke", client_id="bridge", nonce="n",
            algorithms=["RS256"],
        )  # fmt: skip
    for exc in (none_under_way.value, forged.value):
        assert exc.status == 403
        for lang in ("sw", "bn"):
            t = translator(lang)
            problem, _fix = exc.texts(t)
            assert problem != exc.problem
            no_english(lang, f"{exc.message_in(t)}\n{t(exc.title)}")


def test_database_and_backup_errors_read_in_each_language(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as unsupported:
        db.normalise_url("mysql://reader@db.example/cgd")
    damaged = tmp_path / "kisumu-2024.tar"
    damaged.write_bytes(b"this was cut short in the copy")
    reason = _tar_reason(damaged, tmp_path)
    with pytest.raises(CgdBridgeError) as not_a_backup:
        backup.restore(f"sqlite:///{tmp_path / 'restored.sqlite'}", tmp_path / "data", damaged)
    assert not_a_backup.value.problem.startswith("this is not a cgd-bridge backup, or it is damaged: ")
    for exc in (unsupported.value, not_a_backup.value):
        for lang in ("sw", "ne", "bn"):
            t = translator(lang)
            # the tar module's own reason is data, quoted as it came; the command is a name
            no_english(lang, exc.message_in(t), str(damaged), reason, "`cgd-bridge db backup`")


def _tar_reason(bundle: Path, tmp_path: Path) -> str:
    """What Python's tar reader says of ``bundle`` (the error quotes it as it is)."""
    with pytest.raises(CgdBridgeError) as caught:
        backup.restore(f"sqlite:///{tmp_path / 'probe.sqlite'}", tmp_path / "probe", bundle)
    quoted = caught.value.params["reason"]["params"]["reason"]
    assert isinstance(quoted, str)
    assert quoted
    return quoted


@pytest.mark.parametrize(
    ("env", "lang"), [({"LANG": "sw_KE.UTF-8"}, "sw"), ({"CGD_BRIDGE_LANG": "ne"}, "ne")]
)
def test_db_restore_on_the_command_line_follows_the_locale(
    tmp_path: Path, env: dict[str, str], lang: str
) -> None:
    bundle = tmp_path / "backup.tar"
    bundle.write_bytes(b"not a tar at all")
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    url = f"sqlite:///{tmp_path / 'bridge.sqlite'}"
    argv = [
        sys.executable,
        "-m",
        "cgd_bridge",
        "--data-dir",
        str(tmp_path / "data"),
        "db",
        "restore",
        str(bundle),
    ]
    p = subprocess.run(
        [*argv, "--database-url", url], capture_output=True, text=True, timeout=120, env={**base, **env}
    )
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    t = translator(lang)
    assert t("Give a file written by `cgd-bridge db backup`, copied whole.") in p.stderr
    no_english(lang, p.stderr, str(bundle), _tar_reason(bundle, tmp_path), "`cgd-bridge db backup`")
    english = subprocess.run(
        [*argv, "--database-url", url], capture_output=True, text=True, timeout=120, env=base
    )
    assert "this is not a cgd-bridge backup" in english.stderr


@pytest.mark.parametrize("lang", ["sw", "bn"])
def test_a_request_with_invalid_fields_is_refused_in_the_asked_language(demo: Demo, lang: str) -> None:
    """FastAPI's validation (a JSON body of the wrong shape): each field named as it is, why in
    the person's language for the kinds of error people meet (text where a text goes is missing,
    a number given for a text)."""
    headers = {
        "Authorization": f"Bearer {demo.keys['kamau']}",
        "Content-Type": "application/json",
        "Accept-Language": lang,
    }
    r = demo.client.post("/api/versions/1/accept", content=b'{"comment": 12345}', headers=headers)
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    error = body.get("error", body)
    assert "comment" in str(error["message"])  # the field, as the API names it
    no_english(lang, str(error["message"]), "comment", "body")
    english = demo.client.post(
        "/api/versions/1/accept", content=b'{"comment": 12345}', headers={**headers, "Accept-Language": "en"}
    ).json()
    assert "body.comment: it is not a text" in str(english.get("error", english)["problem"])
