"""Screenshots of the main web pages, from the demo, into docs/screenshots/*.png.

Seeds a fresh demo database (both examples published), serves it with ``cgd-bridge serve`` on
a free port of 127.0.0.1, and drives Debian's headless Chromium with Playwright: the CSO signs
in, uploads a broken Kenya dataset (the report page), uploads the Kenya example as a new
version, drafts a mapping for a Malawian export in the mapping builder (also on a phone); the
NSO reviews the version (also on a 360 px phone, and on a phone set to Swahili); the public
browses the dataflow (also as small multiples by sex, and on a phone in English and in
Swahili). Run it from the repository:

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KENYA = ROOT / "examples" / "kenya-health-scorecard"
BROKEN = ROOT / "examples" / "broken" / "total-mismatch" / "data.csv"
sys.path.insert(0, str(ROOT))  # tests.support.official makes the illustrative official series

from tests.support import malawi  # noqa: E402 - after the path it needs
from tests.support.official import official_csv  # noqa: E402 - after the path it needs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def demo_server(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo served on a free port until the block ends; yields its URL and the API keys."""
    from cgd_bridge.server.demo import seed
    from cgd_bridge.store import db
    from cgd_bridge.structures import Structures

    url = f"sqlite:///{folder / 'demo.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            keys = seed(session, Structures.load(folder / "structures")).keys
    finally:
        engine.dispose()
    port = _free_port()
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(folder)}
    env.pop("CGD_BRIDGE_DATABASE_URL", None)
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own server, from this interpreter
        [sys.executable, "-m", "cgd_bridge", "serve", "--port", str(port), "--database-url", url],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text()[-3000:])
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:  # noqa: S310 - our own server
                    if r.status == 200:
                        break
            time.sleep(0.2)
        yield base, keys
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default=os.environ.get("CGD_BRIDGE_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        sys.stderr.write(
            f"Chromium is not at {args.chromium}: apt-get install chromium, or give --chromium PATH.\n"
        )
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        demo_server(Path(tmp)) as (base, keys),
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()

        def navigate(selector: str) -> None:
            with page.expect_navigation():
                page.click(selector)

        def shot(name: str, *, full: bool = True) -> None:
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=full)
            sys.stdout.write(f"wrote {args.out / name}.png\n")

        page.goto(f"{base}/")
        shot("home")
        page.goto(f"{base}/sign-in")
        shot("sign-in")
        page.fill("#api_key", keys["amina"])
        navigate("text=Sign in with the key")
        page.goto(f"{base}/metadata")
        page.set_input_files("#existing", str(KENYA / "quality.yaml"))
        navigate("button[value=load]")
        page.click("#step-collection > summary")  # the form's steps are <details>: open the second
        page.fill("#md-producer-contact-email", "not an address")
        navigate(".md-tools button[value=check]")
        shot("metadata-form", full=False)
        page.set_viewport_size({"width": 360, "height": 800})  # a new record on a phone: the steps
        page.goto(f"{base}/metadata")
        page.evaluate("document.querySelector('.md-progress').scrollIntoView()")
        shot("metadata-form-phone", full=False)
        page.set_viewport_size({"width": 1200, "height": 900})
        page.goto(f"{base}/submit")
        page.set_input_files("#data", str(BROKEN))
        page.set_input_files("#metadata", str(KENYA / "quality.yaml"))
        page.select_option("#mapping_choice", "kenya-health-scorecard.yaml")
        page.fill("#revision_note", "Kilifi tallies reconciled.")
        navigate("button[value=submit]")
        shot("report")
        page.set_input_files("#data", str(KENYA / "data.csv"))
        page.set_input_files("#metadata", str(KENYA / "quality.yaml"))
        page.select_option("#mapping_choice", "kenya-health-scorecard.yaml")
        page.fill("#revision_note", "Kilifi tallies reconciled.")
        navigate("button[value=submit]")
        version_url = page.url
        page.goto(f"{base}/submissions")
        shot("my-submissions")
        # the mapping builder (#18): an export nobody mapped before (tests/support/malawi.py, its
        # labels in Chichewa), drafted for the SDG dataflow, then previewed
        export = malawi.write_export(Path(tmp), dated=True)
        page.goto(f"{base}/mappings")
        page.set_input_files("#data", str(export))
        page.select_option("#dataflow", malawi.FLOW)
        page.fill("#name", "mw-health-voices")
        navigate("button:has-text('Draft the mapping')")
        shot("mapping-builder")
        page.set_viewport_size({"width": 360, "height": 780})
        shot("mapping-builder-phone", full=False)
        page.set_viewport_size({"width": 1200, "height": 900})
        navigate("text=Sign out")
        page.goto(f"{base}/sign-in")
        page.fill("#api_key", keys["kamau"])
        navigate("text=Sign in with the key")
        shot("inbox")
        page.goto(version_url)
        # an official series to compare with, made from the example (illustrative values, not KNBS data)
        official = Path(tmp) / "official.csv"
        official.write_bytes(official_csv())
        page.fill("#official-label", "Illustrative official series (demo values)")
        page.fill("#official-note", "Made from the example by tests/support/official.py; not real KNBS data.")
        page.set_input_files("#official-file", str(official))
        navigate("button:has-text('Load the official series')")
        page.goto(version_url)
        shot("review")
        page.set_viewport_size({"width": 360, "height": 780})  # a phone (#17)
        page.goto(version_url)
        shot("review-phone")
        # the same review in Swahili on a phone: a browser set to Swahili (Accept-Language: sw-KE)
        sw = browser.new_context(viewport={"width": 360, "height": 780}, locale="sw-KE", is_mobile=True)
        sw_page = sw.new_page()
        sw_page.goto(f"{base}/sign-in")
        sw_page.fill("#api_key", keys["kamau"])
        with sw_page.expect_navigation():
            sw_page.click("form:has(#api_key) button[type=submit]")
        sw_page.goto(version_url)
        sw_page.screenshot(path=str(args.out / "review-phone-sw.png"), full_page=False)
        sys.stdout.write(f"wrote {args.out / 'review-phone-sw'}.png\n")
        sw.close()
        page.set_viewport_size({"width": 1200, "height": 900})
        page.fill("#comment-accept", "Consistent with version 1.")
        navigate("button:text('Accept')")
        navigate("button:text('Publish')")
        navigate("text=Sign out")
        page.goto(f"{base}/dataflows")
        shot("dataflows")
        page.goto(f"{base}/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0?REF_AREA=KE_042")
        shot("dataflow")
        page.goto(f"{base}/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0?REF_AREA=KE_042&by=SEX")
        shot("dataflow-by-sex")  # small multiples, one chart per sex on one scale (#17)
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{base}/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0?REF_AREA=KE_042")
        shot("dataflow-phone")
        sw = browser.new_context(viewport={"width": 360, "height": 780}, locale="sw-KE", is_mobile=True)
        sw_page = sw.new_page()
        sw_page.goto(f"{base}/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0?REF_AREA=KE_042")
        sw_page.screenshot(path=str(args.out / "dataflow-phone-sw.png"), full_page=False)
        sys.stdout.write(f"wrote {args.out / 'dataflow-phone-sw'}.png\n")
        sw.close()
        assert re.search(r"/versions/\d+$", version_url), version_url
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
