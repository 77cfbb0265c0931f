"""The tests' process runner (tests/support/process.py): a server that fails to start says why,
and nothing it started outlives its block, whatever the block or the server does."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.support.process import free_port, running

#: a server (http.server) that first writes its pid, and, with a second argument, starts a child
#: that ignores SIGTERM and writes its own pid there: what a master leaves behind when killed
SERVER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from http.server import HTTPServer, SimpleHTTPRequestHandler
    port, pids = int(sys.argv[1]), sys.argv[2:]
    if os.environ.get("DEAF"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(pids[0], "w") as f:
        f.write(str(os.getpid()))
    if len(pids) > 1:
        child = "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        child += "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
        subprocess.Popen([sys.executable, "-c", child, pids[1]])
        while not (os.path.exists(pids[1]) and os.path.getsize(pids[1])):
            time.sleep(0.05)
    print("serving", port, flush=True)
    HTTPServer(("127.0.0.1", port), SimpleHTTPRequestHandler).serve_forever()
    """
)


def _pid(path: Path) -> int:
    return int(path.read_text())


def _gone(pid: int, within: float = 10) -> bool:
    """The process has ended (a zombie counts: it runs no more) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_a_server_is_up_in_the_block_and_gone_after_it(tmp_path: Path) -> None:
    port = free_port()
    pids = tmp_path / "server.pid"
    command = [sys.executable, "-c", SERVER, str(port), str(pids)]
    with running(command, ready=f"http://127.0.0.1:{port}/", log=tmp_path / "server.log", cwd=tmp_path) as p:
        assert p.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    assert p.returncode is not None
    assert _gone(_pid(pids))
    assert "serving" in (tmp_path / "server.log").read_text()


def test_what_a_server_leaves_behind_is_killed_even_when_the_block_fails(tmp_path: Path) -> None:
    """The master ignores SIGTERM (so it is killed after ``stop_timeout``) and its child ignores
    it too: stopping the master alone would leave the child running, an orphan."""
    port = free_port()
    master, child = tmp_path / "master.pid", tmp_path / "child.pid"
    command = [sys.executable, "-c", SERVER, str(port), str(master), str(child)]
    env = {**os.environ, "DEAF": "1"}
    log = tmp_path / "server.log"

    def a_failing_test() -> None:
        with running(command, ready=f"http://127.0.0.1:{port}/", log=log, env=env, stop_timeout=1):
            assert not _gone(_pid(child), within=0)
            raise AssertionError("the test failed")

    with pytest.raises(AssertionError, match="the test failed"):
        a_failing_test()
    assert _gone(_pid(master))
    assert _gone(_pid(child))


def test_a_server_that_exits_at_start_says_why(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('bad setting on line 3', flush=True); sys.exit(3)"]
    with pytest.raises(RuntimeError) as caught:
        with running(command, ready=f"http://127.0.0.1:{free_port()}/", log=tmp_path / "x.log", name="x"):
            raise AssertionError("never entered")
    assert "x exited with 3" in str(caught.value)
    assert "bad setting on line 3" in str(caught.value)


def test_a_server_that_never_answers_says_so_with_its_logs_and_is_stopped(tmp_path: Path) -> None:
    pids = tmp_path / "pid"
    script = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
    script += "print('still loading', flush=True); time.sleep(600)"
    other = tmp_path / "error.log"
    other.write_text("upstream refused\n")
    command = [sys.executable, "-c", script, str(pids)]
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(RuntimeError) as caught:
        with running(command, ready=url, log=tmp_path / "out.log", timeout=2, more_logs=[other]):
            raise AssertionError("never entered")
    text = str(caught.value)
    assert f"did not answer {url} within 2 s" in text
    assert "still loading" in text
    assert "error.log" in text
    assert "upstream refused" in text
    assert "`" + sys.executable in text  # the command names itself
    assert _gone(_pid(pids))
