"""The web mapping builder (#18), through the real app: draft, edit, preview, save, versions,
download, reuse on the submit page, who may see what, and bad uploads with clear errors.

The export is a Malawian CSO's (tests/support/malawi.py) that no bundled mapping knows: its
gender and disability labels are in Chichewa, so the draft misses them and the person fixes
them on the page, as a CSO's data officer would. Each form is posted back as a browser posts it
(every field with its value, read from the page's HTML by lxml).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import yaml
from fastapi.testclient import TestClient

from cgd_bridge.store import mappings
from cgd_bridge.store.models import SavedMapping
from tests.support import malawi
from tests.unit.server.test_web import KENYA, Demo, _demo, csrf, sign_in

EXPORT = {"data": ("malawi-health-voices.csv", malawi.export_csv(), "text/csv")}
GENDER, DISABILITY = "Gender (Mtundu)", "Disability (Ulumali)"


def form_of(html: str, form_id: str = "builder") -> list[tuple[str, str]]:
    """The fields a browser would post from the page's form (selected options, hidden fields)."""
    doc = lxml.html.fromstring(html)
    form = doc.get_element_by_id(form_id)
    return [(k, v) for k, v in form.form_values()]


def set_field(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    assert any(k == name for k, _ in fields), f"the page has no field {name}"
    return [(k, value if k == name else v) for k, v in fields]


def label_field(html: str, label: str) -> str:
    """The name of the code field of a label (``lc_N``)."""
    doc = lxml.html.fromstring(html)
    for hidden in doc.xpath("//input[starts-with(@name, 'lv_')]"):
        if hidden.get("value") == label:
            return "lc_" + hidden.get("name")[3:]
    raise AssertionError(f"the page has no label {label!r}")


def selected(html: str, name: str) -> str:
    doc = lxml.html.fromstring(html)
    (select,) = doc.xpath(f"//select[@name='{name}']")
    return str(select.value or "")


def start(
    c: TestClient, *, dataflow: str = malawi.FLOW, files: dict[str, Any] | None = None, **more: str
) -> Any:
    data = {"csrf_token": csrf(c, "/mappings"), "dataflow": dataflow, "action": "draft", **more}
    return c.post("/mappings/build", data=data, files=files if files is not None else EXPORT)


def step(c: TestClient, fields: list[tuple[str, str]], action: str, **changes: str) -> Any:
    for name, value in changes.items():
        fields = set_field(fields, name, value)
    body: dict[str, list[str]] = {}
    for k, v in [(k, v) for k, v in fields if k != "action"] + [("action", action)]:
        body.setdefault(k, []).append(v)
    return c.post("/mappings/step", data=body, follow_redirects=False)


def fixed(c: TestClient, html: str) -> str:
    """The person's corrections of the Malawi draft: the Chichewa columns are SEX and
    DISABILITY_STATUS, the series is SP_PSR_SATIS; then each Chichewa label's code."""
    r = step(c, form_of(html), "update", dim_SEX=f"column:{GENDER}",
             dim_DISABILITY_STATUS=f"column:{DISABILITY}", dt_SERIES="SP_PSR_SATIS")  # fmt: skip
    assert r.status_code == 200, r.text
    fields = form_of(r.text)
    changes = {label_field(r.text, label): code for label, code in (malawi.SEXES | malawi.DISABILITY).items()}
    for name, value in changes.items():
        fields = set_field(fields, name, value)
    r = step(c, fields, "update")
    assert r.status_code == 200, r.text
    return str(r.text)


def yaml_of(html: str) -> dict[str, Any]:
    doc = lxml.html.fromstring(html)
    (pre,) = doc.xpath("//pre[contains(@class, 'yaml')]")
    return dict(yaml.safe_load(pre.text_content()))


# -- access first: what another organisation's member, an NSO and the public get -------------------


def _saved(demo: Demo, user: str = "amina", name: str = "mw-health-voices") -> int:
    c = demo.client
    sign_in(c, demo.keys[user])
    r = start(c, name=name)
    r = step(c, form_of(fixed(c, r.text)), "save")
    assert r.status_code == 303, r.text
    m = re.search(r"/mappings/(\d+)$", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


def test_another_organisations_member_cannot_see_use_or_download_a_mapping(demo_db: Demo) -> None:
    ident = _saved(demo_db)
    c = demo_db.client
    c.cookies.clear()
    sign_in(c, demo_db.keys["sita"])  # a CSO submitter, of Youth Voices Nepal
    for path in (f"/mappings/{ident}", f"/mappings/{ident}/download"):
        r = c.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "mw-health-voices" not in r.text
    listing = c.get("/mappings")
    assert listing.status_code == 200
    assert "mw-health-voices" not in listing.text
    assert f"saved:{ident}" not in c.get("/submit").text
    # naming it on the submit page by hand: refused at the mapping field, nothing stored
    form = {"csrf_token": csrf(c, "/submit"), "mapping_choice": f"saved:{ident}", "action": "draft"}
    files = {"data": EXPORT["data"], "metadata": ("quality.yaml", malawi.quality_yaml(), "application/yaml")}
    r = c.post("/submit", data=form, files=files, follow_redirects=False)
    assert r.status_code == 400
    assert "no saved mapping" in r.text
    assert 'id="mapping_choice"' in r.text
    assert 'aria-invalid="true"' in r.text
    # an NSO reviewer: the builder is for CSOs (403), the mapping is not theirs either
    c.cookies.clear()
    sign_in(c, demo_db.keys["kamau"])
    assert c.get("/mappings").status_code == 403
    assert c.get(f"/mappings/{ident}/download").status_code == 403
    # nobody signed in: sent to sign in, never the file
    c.cookies.clear()
    r = c.get(f"/mappings/{ident}/download", follow_redirects=False)
    assert r.status_code in (303, 401)
    assert "profile:" not in r.text
    with demo_db.app.state.bridge.sessions() as session:
        assert session.query(SavedMapping).count() == 1


def test_the_store_refuses_other_organisations_and_non_csos(demo: Demo) -> None:
    ident = _saved(demo)
    from cgd_bridge.errors import Forbidden, NotFound
    from cgd_bridge.store import orgs

    with demo.app.state.bridge.sessions() as session:
        sita = orgs.Principal.of(orgs.get_user(session, username="sita"))
        kamau = orgs.Principal.of(orgs.get_user(session, username="kamau"))
        with pytest.raises(NotFound):
            mappings.get_mapping(session, principal=sita, mapping_id=ident)
        assert mappings.list_mappings(session, principal=sita) == []
        with pytest.raises(Forbidden):
            mappings.save_mapping(session, principal=kamau, name="x", text="profile: x", dataflow="A:B(1)",
                                  now=demo.clock())  # fmt: skip


# -- the steps -----------------------------------------------------------------------------------


def test_the_draft_shows_each_dimension_and_label_with_candidates_and_why(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = start(c)
    assert r.status_code == 200, r.text
    page = r.text
    assert "Check the drafted mapping" in page
    # the file is kept on the server: the next steps carry its token, not the file
    assert re.search(r'name="kept_data" value="[^"]+"', page)
    # every dimension of the DSD, each with its choice and why
    for dim in ("FREQ", "SERIES", "REF_AREA", "SEX", "AGE", "DISABILITY_STATUS"):
        assert f'id="dim_{dim}"' in page
        assert f'<label for="dim_{dim}">{dim}</label>' in page
    assert selected(page, "dim_AGE") == "column:Age bracket"
    assert selected(page, "dim_REF_AREA") == "value:454"  # Malawi, from the file's name
    assert "names 454 &#39;Malawi&#39;" in page
    # the age labels with their codes, names and reasons; a codelist's codes are all listed
    assert selected(page, label_field(page, "50+")) == "Y_GE50"
    assert "the age range of &#39;50+&#39; is Y_GE50" in page
    assert ">Y15T24: 15 to 24 years old<" in page or ">Y15T24: " in page
    # SERIES (665 codes) lists its candidates and takes a typed code; no guess is made for it
    assert 'name="dt_SERIES"' in page
    assert "check this" in page
    # the Chichewa columns are not read yet: no gender labels to code, the columns offered as
    # unused, each with the dimension its name is most like first
    assert 'value="Mkazi"' not in page
    doc = lxml.html.fromstring(page)
    unused = {i.get("value"): i.get("name")[3:] for i in doc.xpath("//input[starts-with(@name, 'un_')]")}
    assert set(unused) == {GENDER, DISABILITY}
    first = doc.xpath(f"//select[@name='uc_{unused[GENDER]}']/option")
    assert [o.get("value") for o in first[:2]] == ["", "dimension:SEX"]


def test_changing_choices_remakes_the_draft_and_keeps_them(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c).text)
    assert selected(page, "dim_SEX") == f"column:{GENDER}"
    assert selected(page, "dim_SERIES") == "value:SP_PSR_SATIS"
    for label, code in (malawi.SEXES | malawi.DISABILITY).items():
        assert selected(page, label_field(page, label)) == code
    m = yaml_of(page)
    assert m["dimensions"]["SEX"] == {"column": GENDER, "map": {"F": ["Mkazi"], "M": ["Mwamuna"]}}
    assert m["dimensions"]["DISABILITY_STATUS"]["map"] == {
        "PD": ["Ali ndi ulumali"],
        "PWD": ["Alibe ulumali"],
    }
    assert m["dimensions"]["SERIES"] == {"value": "SP_PSR_SATIS"}
    # another round that changes nothing keeps every choice (they are carried as decisions)
    again = step(c, form_of(page), "update")
    assert yaml_of(again.text)["dimensions"] == m["dimensions"]
    assert "your choice" in again.text
    # a label set back to "no code" leaves its rows out, and says so
    fields = set_field(form_of(again.text), label_field(again.text, "Mwamuna"), "")
    r = step(c, fields, "update")
    assert yaml_of(r.text)["dimensions"]["SEX"]["map"] == {"F": ["Mkazi"]}


def test_preview_runs_the_real_pipeline_with_the_edited_mapping(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c).text)
    r = step(c, form_of(page), "preview")
    assert r.status_code == 200, r.text
    doc = lxml.html.fromstring(r.text)
    assert "The mapping gives 32 observations" in r.text
    heads = [th.text_content() for th in doc.xpath("//section[@id='preview']//thead//th")]
    assert {"SEX", "AGE", "DISABILITY_STATUS", "TIME_PERIOD", "OBS_VALUE", "SOURCE_ROW"} <= set(heads)
    first = [td.text_content() for td in doc.xpath("//section[@id='preview']//tbody/tr[1]/td")]
    row = dict(zip(heads, first, strict=True))
    year, sex, age, dis, n, k = malawi.rows()[int(row["SOURCE_ROW"]) - 2]
    assert (row["TIME_PERIOD"], row["SEX"], row["AGE"], row["DISABILITY_STATUS"]) == (
        year, malawi.SEXES[sex], malawi.AGES[age], malawi.DISABILITY[dis])  # fmt: skip
    assert float(row["OBS_VALUE"]) == pytest.approx(round(int(k) / int(n) * 100, 1))
    assert "Validation report" in r.text
    # the draft as it came, before the fixes: the preview says what is wrong, with the fix
    r = step(c, form_of(start(c).text), "preview")
    assert r.status_code == 200
    assert "Not valid" in r.text or "not valid" in r.text.casefold()


def test_preview_reports_coverage_of_labels_left_without_a_code(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c).text)
    fields = set_field(form_of(page), label_field(page, "Mwamuna"), "")
    r = step(c, fields, "preview")
    assert "The mapping gives 16 observations" in r.text
    assert "unmapped-value" in r.text
    assert "Mwamuna" in r.text


def test_save_makes_versions_and_each_downloads_as_its_yaml(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c, name="mw-health-voices").text)
    r = step(c, form_of(page), "save")
    assert r.status_code == 303
    first = r.headers["location"]
    shown = c.get(first)
    assert "Mapping mw-health-voices, version 1" in shown.text
    assert "was saved" in shown.text
    # the same name again, one choice changed: version 2; both kept
    fields = set_field(form_of(page), "note", "AGE as one total")
    r = step(c, fields, "save", dim_AGE="value:_T")
    assert r.status_code == 303
    second = r.headers["location"]
    assert second != first
    page2 = c.get(second).text
    assert "version 2" in page2
    assert "AGE as one total" in page2
    one = c.get(f"{first}/download")
    two = c.get(f"{second}/download")
    assert one.status_code == two.status_code == 200
    assert 'filename="mw-health-voices-v1.yaml"' in one.headers["content-disposition"]
    assert yaml.safe_load(one.text)["dimensions"]["AGE"]["column"] == "Age bracket"
    assert yaml.safe_load(two.text)["dimensions"]["AGE"] == {"value": "_T"}
    listing = c.get("/mappings").text
    assert "mw-health-voices" in listing
    with demo.app.state.bridge.sessions() as session:
        rows = session.query(SavedMapping).order_by(SavedMapping.number).all()
        assert [(s.name, s.number, s.dataflow) for s in rows] == [
            ("mw-health-voices", 1, malawi.FLOW), ("mw-health-voices", 2, malawi.FLOW)]  # fmt: skip


def test_saving_needs_a_good_name(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c).text)
    r = step(c, form_of(page), "save")
    assert r.status_code == 400
    assert "Give the mapping a name" in r.text
    r = step(c, form_of(page), "save", name="../../etc/passwd")
    assert r.status_code == 400
    assert "cannot name a mapping" in r.text
    with demo.app.state.bridge.sessions() as session:
        assert session.query(SavedMapping).count() == 0


def test_the_draft_downloads_as_yaml_without_saving(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c).text)
    r = step(c, form_of(page), "yaml")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert yaml.safe_load(r.text)["dimensions"]["SEX"]["column"] == GENDER
    assert "# " in r.text  # every guess commented with why


def test_submitting_with_a_saved_mapping_stores_its_text(demo: Demo) -> None:
    ident = _saved(demo)
    c = demo.client
    page = c.get(f"/submit?mapping=saved:{ident}").text
    assert f'<option value="saved:{ident}" selected>' in page
    assert "mw-health-voices, version 1" in page
    form = {"csrf_token": csrf(c, "/submit"), "mapping_choice": f"saved:{ident}", "action": "draft"}
    files = {"data": EXPORT["data"], "metadata": ("quality.yaml", malawi.quality_yaml(), "application/yaml")}
    r = c.post("/submit", data=form, files=files, follow_redirects=False)
    assert r.status_code == 303, re.sub(r"\s+", " ", r.text)[:3000]
    version = c.get(r.headers["location"]).text
    assert "mw-health-voices-v1.yaml" in version
    with demo.app.state.bridge.sessions() as session:
        saved = session.get(SavedMapping, ident)
        assert saved is not None
        from cgd_bridge.store.models import Version

        stored = session.query(Version).order_by(Version.id.desc()).first()
        assert stored is not None
        assert stored.mapping_text == saved.text


def test_a_new_draft_learns_from_the_organisations_saved_mapping(demo: Demo) -> None:
    _saved(demo)
    c = demo.client
    r = start(c)  # the same export again: the Chichewa columns and labels as saved before
    assert selected(r.text, "dim_SEX") == f"column:{GENDER}"
    assert selected(r.text, label_field(r.text, "Mkazi")) == "F"
    assert "mw-health-voices v1" in r.text


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "field", "words"),
    [
        ({}, "data", "Choose the dataset file"),
        ({"data": ("empty.csv", b"", "text/csv")}, "data", "empty"),
        (
            {"data": ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "text/csv")},
            "data",
            "photo.csv",
        ),
        ({"data": ("header-only.csv", b"a,b,c\n", "text/csv")}, "data", "no rows"),
    ],
    ids=["no-file", "empty", "binary", "no-rows"],
)
def test_bad_uploads_get_a_clear_error_at_their_field(
    demo: Demo, files: dict[str, Any], field: str, words: str
) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = start(c, files=files or {"x": ("", b"", "text/plain")})
    assert r.status_code in (400, 413, 422), r.status_code
    assert "There is a problem" in r.text
    assert f'href="#{field}"' in r.text
    assert words in r.text
    assert "Traceback" not in r.text


def test_no_dataflow_or_an_unknown_one_is_named(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    for flow in ("", "XX:NOPE(1.0)"):
        r = start(c, dataflow=flow)
        assert r.status_code == 400
        assert 'href="#dataflow"' in r.text
        assert "Pick the dataflow" in r.text
    # the file sent with the refused form is kept: the next try need not send it again
    assert re.search(r'name="kept_data" value="[^"]+"', r.text)


def test_a_typed_code_not_in_the_codelist_is_refused_at_its_field(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = step(c, form_of(start(c).text), "update", dt_SERIES="NOT_A_SERIES")
    assert r.status_code == 400
    assert 'href="#dim_SERIES"' in r.text
    assert "NOT_A_SERIES" in r.text
    r = step(c, form_of(start(c).text), "update", dim_SEX="column:no such column")
    assert r.status_code == 400
    assert "no column" in r.text


def test_a_kept_file_of_someone_else_is_not_found(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    fields = form_of(start(c).text)
    c.cookies.clear()
    sign_in(c, demo.keys["sita"])
    token = csrf(c, "/mappings")
    fields = set_field(fields, "csrf_token", token)
    r = step(c, fields, "update")
    assert r.status_code == 400
    assert 'href="#data"' in r.text


def test_the_builder_needs_the_csrf_token(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = c.post("/mappings/build", data={"dataflow": malawi.FLOW, "action": "draft"}, files=EXPORT)
    assert r.status_code == 403


def test_the_kenya_example_drafts_its_bundled_mapping_choices(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    files = {"data": ("scorecard.csv", (KENYA / "data.csv").read_bytes(), "text/csv")}
    r = start(c, dataflow="CGD_BRIDGE:DF_CGD_KE(1.0)", files=files)
    assert selected(r.text, "dim_REF_AREA") == "column:county"
    assert selected(r.text, label_field(r.text, "Kisumu")) == "KE_042"


def test_the_draft_gives_its_reasons_in_the_page_language(demo: Demo) -> None:
    """#17: the reasons beside each choice are in the person's language, as on the CLI; the
    choices are the same as in English."""
    from markupsafe import escape

    from cgd_bridge.i18n import translator

    c = demo.client
    sign_in(c, demo.keys["amina"])
    english = start(c).text
    assert "the age range of &#39;50+&#39; is Y_GE50" in english
    assert c.get("/mappings", params={"lang": "sw"}).status_code == 200  # the setting, kept
    page = start(c).text
    sw = translator("sw")
    assert escape(sw("the age range of '{label}' is {code}", label="50+", code="Y_GE50")) in page
    assert "the age range of" not in page
    assert selected(page, "dim_AGE") == selected(english, "dim_AGE") == "column:Age bracket"
    assert selected(page, label_field(page, "50+")) == "Y_GE50"


def test_a_long_preview_continues_in_the_background_with_a_status_page(tmp_path: Path) -> None:
    with _demo(tmp_path, web_check_wait_seconds=0) as demo:
        c = demo.client
        sign_in(c, demo.keys["amina"])
        page = fixed(c, start(c).text)
        r = step(c, form_of(page), "preview")
        assert r.status_code == 303
        status = r.headers["location"]
        assert status.startswith("/mappings/checks/")
        for _ in range(600):
            shown = c.get(status, follow_redirects=False)
            if 'http-equiv="refresh"' not in shown.text:
                break
            assert "Previewing the mapping" in shown.text
            time.sleep(0.1)
        assert shown.status_code == 200
        # the builder's page as it was posted, with the preview
        assert "The mapping gives 32 observations" in shown.text
        assert selected(shown.text, "dim_SEX") == f"column:{GENDER}"
        assert selected(shown.text, label_field(shown.text, "Mkazi")) == "F"
        # the page's form still works: save from it
        r = step(c, form_of(shown.text), "save", name="from-the-status-page")
        assert r.status_code == 303
        # someone else: no such check
        c.cookies.clear()
        sign_in(c, demo.keys["sita"])
        assert c.get(status).status_code == 404


def test_a_draft_of_many_labels_posts_back_whole(demo: Demo) -> None:
    """A district column of 290 labels: more than the 1,000 fields a form parser takes by
    default; every label's choice comes back."""
    rows = ["year,district,respondents,satisfied"] + [f"2024,Place {i:03d},40,20" for i in range(290)]
    files = {"data": ("districts.csv", "\n".join(rows).encode(), "text/csv")}
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = start(c, dataflow="CGD_BRIDGE:DF_CGD_KE(1.0)", files=files)
    assert r.status_code == 200, r.text[:500]
    fields = form_of(r.text)
    fields = set_field(fields, "dim_REF_AREA", "column:district")
    r = step(c, fields, "update")
    assert r.status_code == 200
    fields = form_of(r.text)
    assert len(fields) > 1000
    fields = set_field(fields, label_field(r.text, "Place 289"), "KE_047")
    r = step(c, fields, "update")
    assert r.status_code == 200
    assert selected(r.text, label_field(r.text, "Place 289")) == "KE_047"
    assert selected(r.text, label_field(r.text, "Place 000")) in ("", *[f"KE_{i:03d}" for i in range(1, 48)])


# -- TIME_PERIOD, the measure and the columns the draft used for nothing ----------------------------


def _unused_field(html: str, column: str) -> str:
    doc = lxml.html.fromstring(html)
    for hidden in doc.xpath("//input[starts-with(@name, 'un_')]"):
        if hidden.get("value") == column:
            return "uc_" + hidden.get("name")[3:]
    raise AssertionError(f"the page offers no unused column {column!r}")


def test_time_and_measure_are_changed_on_the_page_and_kept(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = fixed(c, start(c).text)
    assert selected(page, "t_src") == "column:Chaka (year)"
    assert selected(page, "t_fmt") == "year"
    assert selected(page, "m_kind") == "proportion"
    assert (selected(page, "m_col"), selected(page, "m_den")) == ("Number satisfied", "Number interviewed")
    assert "change it in the YAML file" not in page
    r = step(c, form_of(page), "update", t_src="value", t_value="2024", m_kind="count",
             m_col="Number interviewed", m_den="")  # fmt: skip
    assert r.status_code == 200, r.text
    m = yaml_of(r.text)
    assert m["time"] == {"value": "2024"}
    assert m["value"] == {"kind": "count", "numerator": "Number interviewed"}
    assert m["attributes"]["UNIT_MEASURE"] == {"value": "NUMBER"}
    assert "chosen in the review" in r.text  # the YAML's comment says whose choice it is
    # the column no longer read is offered as unused; the choices survive another round
    assert _unused_field(r.text, "Chaka (year)")
    again = step(c, form_of(r.text), "update")
    assert yaml_of(again.text)["time"] == {"value": "2024"}
    assert yaml_of(again.text)["value"] == m["value"]
    # and back to the column, saved: the saved YAML has what the page shows
    r = step(c, form_of(again.text), "save", t_src="column:Chaka (year)", t_fmt="year", m_kind="proportion",
             m_col="Number satisfied", m_den="Number interviewed", name="mw-time-measure")  # fmt: skip
    assert r.status_code == 303, r.text
    saved = yaml.safe_load(c.get(f"{r.headers['location']}/download").text)
    assert saved["time"] == {"column": "Chaka (year)", "format": "year"}
    assert saved["value"]["numerator"] == "Number satisfied"


def test_an_unused_column_placed_as_a_dimension_brings_its_labels(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = start(c).text
    fields = form_of(page)
    fields = set_field(fields, _unused_field(page, GENDER), "dimension:SEX")
    r = step(c, fields, "update")
    assert r.status_code == 200, r.text
    assert selected(r.text, "dim_SEX") == f"column:{GENDER}"
    assert yaml_of(r.text)["dimensions"]["SEX"]["column"] == GENDER
    # its labels are on the page to code, the column is no longer offered as unused
    fields = set_field(form_of(r.text), label_field(r.text, "Mkazi"), "F")
    fields = set_field(fields, label_field(r.text, "Mwamuna"), "M")
    with pytest.raises(AssertionError):
        _unused_field(r.text, GENDER)
    r = step(c, fields, "preview")
    assert yaml_of(r.text)["dimensions"]["SEX"]["map"] == {"F": ["Mkazi"], "M": ["Mwamuna"]}
    doc = lxml.html.fromstring(r.text)
    heads = [th.text_content() for th in doc.xpath("//section[@id='preview']//thead//th")]
    sexes = {
        tr.xpath("td")[heads.index("SEX")].text_content()
        for tr in doc.xpath("//section[@id='preview']//div[contains(@class, 'scroll')]//tbody/tr")
    }
    assert sexes
    assert sexes <= {"F", "M"}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"t_src": "column:no such column"}, "t_src", "no column &#39;no such column&#39;"),
        ({"t_src": "value", "t_value": "last year"}, "t_value", "not a period"),
        ({"t_fmt": "fortnight"}, "t_fmt", "&#39;fortnight&#39; is not a format"),
        ({"m_kind": "ratio"}, "m_kind", "&#39;ratio&#39; is not a kind of measure"),
        ({"m_kind": "mean"}, "m_kind", "&#39;mean&#39; is not a kind of measure"),  # aggregate data
        ({"m_col": "no such column"}, "m_col", "no column &#39;no such column&#39;"),
        ({"m_col": ""}, "m_col", "choose the column"),
        ({"m_den": GENDER}, "m_den", "does not hold numbers"),
        ({"m_den": "Number satisfied"}, "m_den", "the same column"),
        ({"m_kind": "column", "m_col": "Age bracket"}, "m_col", "does not hold numbers"),
    ],
    ids=[
        "time-column",
        "time-value",
        "time-format",
        "kind",
        "microdata-kind",
        "column",
        "no-column",
        "denominator-text",
        "same-column",
        "value-text",
    ],
)
def test_a_time_or_measure_the_data_cannot_give_is_refused_at_its_field(
    demo: Demo, changes: dict[str, str], field: str, words: str
) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    fields = form_of(start(c).text)
    if "t_src" not in changes and "t_value" in changes:
        fields = set_field(fields, "t_src", "value")
    body: dict[str, list[str]] = {}
    for k, v in fields:
        body.setdefault(k, []).append(changes.get(k, v))
    for k, v in changes.items():  # a field the page has no option for is posted all the same
        body[k] = [v]
    body["action"] = ["update"]
    r = c.post("/mappings/step", data=body, follow_redirects=False)
    assert r.status_code == 400, r.text[:300]
    assert f'href="#{field}"' in r.text
    assert words in r.text
    assert f'id="{field}"' in r.text
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    ("choice", "words"),
    [
        ("dimension:NOT_A_DIMENSION", "&#39;NOT_A_DIMENSION&#39; is not a dimension"),
        ("SEX", "&#39;SEX&#39; is not a dimension"),
    ],
    ids=["unknown-dimension", "no-prefix"],
)
def test_an_unused_column_placed_as_no_dimension_of_the_dsd_is_refused(
    demo: Demo, choice: str, words: str
) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = start(c).text
    name = _unused_field(page, GENDER)
    r = step(c, form_of(page), "update", **{name: choice})
    assert r.status_code == 400
    assert f'href="#{name}"' in r.text
    assert words in r.text


def test_an_unused_column_not_in_the_export_and_a_dimension_given_twice_are_refused(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = start(c).text
    gender, disability = _unused_field(page, GENDER), _unused_field(page, DISABILITY)
    r = step(c, form_of(page), "update", **{"un_" + gender[3:]: "Not a column", gender: "dimension:SEX"})
    assert r.status_code == 400
    assert "no column &#39;Not a column&#39;" in r.text
    r = step(c, form_of(page), "update", **{gender: "dimension:SEX", disability: "dimension:SEX"})
    assert r.status_code == 400
    assert "SEX is given to two columns" in r.text
