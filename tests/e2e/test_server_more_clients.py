"""More real SDMX clients against a real server (#15): sdmxthon (Python), the npm ``sdmx-rest``
library (JavaScript, sdmx-rest4js), R's rsdmx and pandaSDMX, each reading the demo's published
Kenya dataset and compared observation by observation with what the pipeline harmonised from the
example (the same comparison as tests/e2e/test_server_clients.py for sdmx1 and pysdmx).

- sdmxthon reads SDMX-ML 2.1 only (its reader validates every message against the 2.1 XSD), so
  it runs on the v1 API: both data formats, and the dataflow with its structures.
- sdmx-rest builds the v1 and v2 queries and runs them with its own ``request`` (isomorphic
  fetch); Node parses the SDMX-JSON 2.0 answer (and the SDMX-CSV one comes back as text). It is
  installed with npm into a cached folder the first time (``CGD_BRIDGE_NPM_CACHE``, default
  ``$TMPDIR/cgd-bridge-npm``); without npm, or when the install fails, its tests skip, saying so.
- pandaSDMX cannot be installed beside cgd-bridge: its last release (1.10.0, 2023) requires
  pydantic < 2 and cgd-bridge needs pydantic 2. Its test skips with that reason unless it imports.
- R's rsdmx comes from Debian (``r-cran-rsdmx``; there is no CRAN here), installed by
  scripts/test as root; it reads SDMX-ML 2.1 data (v1). Without ``Rscript`` its test skips.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_server_clients import AGENCY, FLOW, check_against, expected_values, same
from tests.support.server import LiveServer, live_server

SDMX_REST = "sdmx-rest@2.20.0"  # sdmx-rest4js: SDMX REST v1.5 and v2.0 queries


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo served over HTTP on SQLite only: these tests are about the clients' reading, and
    tests/e2e/test_server_clients.py already runs clients on both stores (CI time is short)."""
    data_dir = tmp_path_factory.mktemp("more-clients")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
        yield server


def _values(records: list[dict[str, Any]], dims: list[str]) -> dict[tuple[str, ...], float | None]:
    out: dict[tuple[str, ...], float | None] = {}
    for rec in records:
        value = rec.get("OBS_VALUE")
        out[tuple(str(rec[d]) for d in [*dims, "TIME_PERIOD"])] = (
            None if value in (None, "") or value != value else float(value)
        )
    return out


def _all_observations(got: dict[tuple[str, ...], float | None], expected: dict[str, Any]) -> None:
    """Every harmonised observation, and nothing else, with its value (suppressed: none)."""
    want = expected_values(expected)
    assert set(got) == set(want), sorted(set(got) ^ set(want))[:5]
    assert all(same(want[k], got[k]) for k in want)


# -- sdmxthon --------------------------------------------------------------------------------------

#: sdmxthon 2.6 still calls pandas' DataFrame.rename(inplace=True), which pandas 3.1 deprecates
SDMXTHON_WARNINGS = pytest.mark.filterwarnings("ignore:The inplace keyword")


@SDMXTHON_WARNINGS
@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-ss", "sdmx-ml-2.1-generic"])
def test_sdmxthon_reads_v1_data(live: LiveServer, kenya_expected: dict[str, Any], fmt: str) -> None:
    sdmxthon = pytest.importorskip("sdmxthon", reason="sdmxthon is a test extra (pip install sdmxthon)")
    message = sdmxthon.read_sdmx(
        f"{live.url}/sdmx/rest/data/{AGENCY},{FLOW},1.0/all?format={fmt}", validate=True
    )
    (dataset,) = message.content.values()
    got = _values(dataset.data.to_dict("records"), kenya_expected["dimensions"])
    _all_observations(got, kenya_expected)


@SDMXTHON_WARNINGS
def test_sdmxthon_reads_v1_structures(live: LiveServer) -> None:
    sdmxthon = pytest.importorskip("sdmxthon", reason="sdmxthon is a test extra (pip install sdmxthon)")
    message = sdmxthon.read_sdmx(
        f"{live.url}/sdmx/rest/dataflow/{AGENCY}/{FLOW}/1.0?references=all", validate=True
    )
    assert message.content["errors"] == []
    assert list(message.content["Dataflows"]) == [f"{AGENCY}:{FLOW}(1.0)"]
    dsd = message.content["DataStructures"][f"{AGENCY}:CGD_KE(1.0)"]
    assert list(dsd.dimension_descriptor.components)[:4] == ["FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA"]


# -- the npm sdmx-rest library ---------------------------------------------------------------------------

#: Runs one query with sdmx-rest's request(); prints the observations as JSON records (SDMX-JSON
#: 2.0 answers, decoded here from positions to codes) or the raw text (SDMX-CSV).
NODE_CLIENT = r"""
const sdmxrest = require('sdmx-rest');
const [url, api, accept, flowJson] = process.argv.slice(2);
const flow = JSON.parse(flowJson);
const service = sdmxrest.getService({url: url, api: api});
const query = api.startsWith('v1')
  ? {flow: `${flow.agency},${flow.id},${flow.version}`}
  : {context: `dataflow=${flow.agency}:${flow.id}(${flow.version})`};
sdmxrest.request(query, service, {headers: {accept: accept}}).then(function (text) {
  if (!accept.includes('json')) { process.stdout.write(text); return; }
  const msg = JSON.parse(text);
  const structure = msg.data.structures[0];
  const seriesDims = structure.dimensions.series || [];
  const obsDims = structure.dimensions.observation || [];
  const records = [];
  const decode = (dims, key) => Object.fromEntries(
    key.split(':').filter((p) => p !== '').map((p, i) => {
      const value = dims[i].values[Number(p)];
      return [dims[i].id, value.id !== undefined ? value.id : value.value];  // time: {value, start, end}
    }));
  for (const dataSet of msg.data.dataSets) {
    const add = (base, observations) => {
      for (const [k, v] of Object.entries(observations || {})) {
        records.push({...base, ...decode(obsDims, k), OBS_VALUE: v[0]});
      }
    };
    if (dataSet.series) {
      for (const [k, s] of Object.entries(dataSet.series)) { add(decode(seriesDims, k), s.observations); }
    } else {
      add({}, dataSet.observations);
    }
  }
  process.stdout.write(JSON.stringify(records));
}).catch(function (error) { console.error(`sdmx-rest failed: ${error}`); process.exit(1); });
"""


@pytest.fixture(scope="session")
def sdmx_rest_js() -> Path:
    """A folder with the npm sdmx-rest library installed (once, then reused) and the client script."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("needs Node.js and npm for the JavaScript sdmx-rest client (apt-get install npm)")
    folder = Path(os.environ.get("CGD_BRIDGE_NPM_CACHE") or Path(tempfile.gettempdir()) / "cgd-bridge-npm")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "node_modules" / "sdmx-rest" / "package.json").is_file():
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), SDMX_REST],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm could not install {SDMX_REST}: {done.stderr[-500:]}")
    (folder / "client.js").write_text(NODE_CLIENT, encoding="utf-8")
    return folder


def _run_node(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["node", str(folder / "client.js"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(
    ("api", "accept"),
    [
        ("v1.5.0", "application/vnd.sdmx.data+json;version=2.0.0"),
        ("v1.5.0", "application/vnd.sdmx.data+csv;version=1.0.0"),
        ("v2.0.0", "application/vnd.sdmx.data+json;version=2.0.0"),
        ("v2.0.0", "application/vnd.sdmx.data+csv;version=2.0.0"),
    ],
)
def test_sdmx_rest_js_reads_data(
    live: LiveServer, kenya_expected: dict[str, Any], sdmx_rest_js: Path, api: str, accept: str
) -> None:
    base = f"{live.url}/sdmx/rest" if api.startswith("v1") else f"{live.url}/sdmx/v2"
    flow = json.dumps({"agency": AGENCY, "id": FLOW, "version": "1.0"})
    out = _run_node(sdmx_rest_js, base, api, accept, flow)
    records = json.loads(out) if "json" in accept else list(csv.DictReader(io.StringIO(out)))
    _all_observations(_values(records, kenya_expected["dimensions"]), kenya_expected)


# -- pandaSDMX -------------------------------------------------------------------------------------------


def test_pandasdmx_reads_v1_data(live: LiveServer, kenya_expected: dict[str, Any]) -> None:
    pandasdmx = pytest.importorskip(
        "pandasdmx",
        reason="pandaSDMX 1.10.0, its last release, requires pydantic<2; cgd-bridge needs pydantic 2, "
        "so the two cannot be installed together",
    )
    pandasdmx.add_source({"id": AGENCY, "url": f"{live.url}/sdmx/rest", "name": "cgd-bridge"}, override=True)
    message = pandasdmx.Request(AGENCY).data(FLOW)
    series = pandasdmx.to_pandas(message.data[0])
    dims = [*kenya_expected["dimensions"], "TIME_PERIOD"]
    got = {
        tuple(str(dict(zip(series.index.names, idx, strict=True))[d]) for d in dims): float(v)
        for idx, v in series.items()
    }
    check_against(got, kenya_expected)


# -- R: rsdmx ------------------------------------------------------------------------------------------

#: Reads one SDMX-ML data URL with rsdmx and writes its observations as CSV.
R_CLIENT = """
suppressMessages(library(rsdmx))
args <- commandArgs(trailingOnly = TRUE)
sdmx <- readSDMX(args[1])
write.csv(as.data.frame(sdmx), stdout(), row.names = FALSE, na = "")
"""


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-generic", "sdmx-ml-2.1-ss"])
def test_rsdmx_reads_v1_data(
    live: LiveServer, kenya_expected: dict[str, Any], fmt: str, tmp_path: Path
) -> None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("needs R with rsdmx (apt-get install r-cran-rsdmx, as root)")
    script = tmp_path / "client.R"
    script.write_text(R_CLIENT, encoding="utf-8")
    url = f"{live.url}/sdmx/rest/data/{AGENCY},{FLOW},1.0/all?format={fmt}"
    done = subprocess.run(
        [rscript, str(script), url], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0 and "there is no package called" in done.stderr:
        pytest.skip("needs the R package rsdmx (apt-get install r-cran-rsdmx, as root)")
    assert done.returncode == 0, done.stderr[-2000:]
    records = list(csv.DictReader(io.StringIO(done.stdout)))
    if records and "obsTime" in records[0]:  # rsdmx names the time and value columns its own way
        records = [{**r, "TIME_PERIOD": r["obsTime"], "OBS_VALUE": r.get("obsValue")} for r in records]
    _all_observations(_values(records, kenya_expected["dimensions"]), kenya_expected)
