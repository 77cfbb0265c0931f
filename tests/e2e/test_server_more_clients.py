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
  pydantic < 2 and cgd-bridge needs pydantic 2. It is a client, so it gets a venv of its own
  (made once, cached: ``CGD_BRIDGE_PANDASDMX_VENV``, default under ``~/.cache/cgd-bridge-test``)
  and reads the v1 API (pandaSDMX speaks SDMX 2.1 REST only) from its own process; when pip
  cannot install it, its tests skip with pip's error.
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

from tests.e2e.test_server_clients import AGENCY, FLOW, expected_values, same
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

#: pandaSDMX's last release and what it needs: pydantic < 2, which cgd-bridge cannot share a
#: process with (it needs pydantic 2), so pandaSDMX gets a venv of its own and runs as a client
#: in its own process, as it would on an NSO's machine.
PANDASDMX_REQUIREMENTS = ("pandaSDMX==1.10.0", "pydantic>=1.10,<2")

#: Runs in pandaSDMX's venv: reads the bridge's v1 API (dataflows, the dataflow with its
#: structures, the data) and prints what it read as JSON.
PANDASDMX_CLIENT = r"""
import json
import sys
import warnings

warnings.simplefilter("ignore")  # pandaSDMX warns that the optional requests_cache is absent
import pandasdmx

url, agency, flow = sys.argv[1:4]
pandasdmx.add_source({"id": agency, "url": url, "name": "cgd-bridge"}, override=True)
request = pandasdmx.Request(agency)
out = {"version": pandasdmx.__version__}
# "all": pandaSDMX 1.10 leaves an absent id out of the path (dataflow/AGENCY/latest), which
# SDMX REST reads as the dataflow whose id is "latest"; sdmx1, its successor, writes "all"
out["dataflows"] = sorted(request.dataflow("all").dataflow)
structures = request.dataflow(flow, params={"references": "all"})
dsd = structures.dataflow[flow].structure
out["dsd"] = f"{dsd.maintainer.id}:{dsd.id}({dsd.version})"
out["dimensions"] = [d.id for d in dsd.dimensions.components]
out["codelists"] = {
    f"{cl.maintainer.id}:{cl.id}({cl.version})": sorted(cl.items) for cl in structures.codelist.values()
}
data = request.data(flow, params={"startPeriod": "2000"})  # the key is checked against the DSD
series = pandasdmx.to_pandas(data.data[0])
names = list(series.index.names)
out["observations"] = [
    {**dict(zip(names, idx if isinstance(idx, tuple) else (idx,))), "OBS_VALUE": None if v != v else float(v)}
    for idx, v in series.items()
]
print(json.dumps(out))
"""


def _pandasdmx_venv() -> Path:
    """pandaSDMX's own venv, made once (under ``CGD_BRIDGE_PANDASDMX_VENV``, default
    ``~/.cache/cgd-bridge-test/pandasdmx-1.10.0-<hash>``) and reused: 17 s to make on an idle
    machine (67 s with its 2 cores under load 16), then nothing. A lock keeps parallel test
    workers from making it twice; a venv left half-made by an interrupted run has no
    ``.complete`` mark and is made again."""
    import fcntl
    import hashlib
    import sys

    key = hashlib.sha256(" ".join(PANDASDMX_REQUIREMENTS).encode()).hexdigest()[:10]
    default = Path.home() / ".cache" / "cgd-bridge-test" / f"pandasdmx-1.10.0-{key}"
    folder = Path(os.environ.get("CGD_BRIDGE_PANDASDMX_VENV") or default)
    python = folder / "bin" / "python"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / ".complete").is_file():
            return python
        shutil.rmtree(folder, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(folder)],
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *PANDASDMX_REQUIREMENTS],
        ]  # fmt: skip
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
            if done.returncode != 0:
                pytest.skip(f"pandaSDMX could not be installed ({' '.join(step[2:4])}): {done.stderr[-500:]}")
        (folder / ".complete").write_text(" ".join(PANDASDMX_REQUIREMENTS), encoding="utf-8")
    return python


@pytest.fixture(scope="module")
def pandasdmx_read(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What pandaSDMX, in its own venv and process, read from the live server's v1 API."""
    python = _pandasdmx_venv()
    script = tmp_path_factory.mktemp("pandasdmx") / "client.py"
    script.write_text(PANDASDMX_CLIENT, encoding="utf-8")
    done = subprocess.run(
        [str(python), str(script), f"{live.url}/sdmx/rest", AGENCY, FLOW],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["version"] == "1.10.0"
    return result


def test_pandasdmx_reads_v1_structures(
    pandasdmx_read: dict[str, Any], kenya_expected: dict[str, Any]
) -> None:
    """The dataflows of the agency (the CSO tables' dataflows, found only by reference, are not
    listed), the dataflow's DSD with its dimensions, and every codelist with the bridge's codes."""
    from cgd_bridge.structures import Structures

    structures = Structures()
    assert pandasdmx_read["dataflows"] == [FLOW]
    flow = structures.dataflow(FLOW, AGENCY, "1.0")
    dsd = flow.structure
    assert pandasdmx_read["dsd"] == f"{dsd.maintainer.id}:{dsd.id}({dsd.version})"
    assert pandasdmx_read["dimensions"] == [d.id for d in dsd.dimensions.components]
    assert pandasdmx_read["dimensions"] == [*kenya_expected["dimensions"], "TIME_PERIOD"]
    used = {
        f"{c.local_representation.enumerated.maintainer.id}:{c.local_representation.enumerated.id}"
        f"({c.local_representation.enumerated.version})"
        for lst in (dsd.dimensions, dsd.attributes)
        for c in lst.components
        if c.local_representation is not None and c.local_representation.enumerated is not None
    }
    assert used <= set(pandasdmx_read["codelists"])
    for ref, codes in pandasdmx_read["codelists"].items():
        assert set(codes) == set(structures.codes(ref)), ref


def test_pandasdmx_reads_v1_data(pandasdmx_read: dict[str, Any], kenya_expected: dict[str, Any]) -> None:
    """Every harmonised observation with its value (suppressed cells: none)."""
    got = _values(pandasdmx_read["observations"], kenya_expected["dimensions"])
    _all_observations(got, kenya_expected)


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
