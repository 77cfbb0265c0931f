"""A real nginx (Debian's) in front of test servers, on loopback, stopped when the block ends.

:func:`nginx_proxy` is a reverse proxy in front of one bridge: it connects to the bridge from
its own loopback address (``proxy_bind``), so a test can trust the proxy's address alone and show
that the same headers sent by anyone else are ignored. :func:`nginx_balancer` is a round-robin
load balancer in front of several bridges (the hosts of one database); every answer names the
host that gave it in ``X-Upstream`` (nginx's ``$upstream_addr``: ``127.0.0.1:PORT``, a
comma-separated list when nginx tried more than one).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.process import free_port, running

#: Where Debian's nginx (``apt-get install nginx-light``) is.
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)
#: The address nginx connects to the bridge from: the one proxy the bridge trusts in the tests.
PROXY_ADDRESS = "127.0.0.2"

#: what both configurations share: one worker, no daemon, every file in the test's folder
_PREAMBLE = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
"""

_PROXY = """
    server {{
        listen 127.0.0.1:{port};
        location {prefix}/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_bind {proxy_address};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # stands for the TLS listener of docs/deploy.md: the client spoke https to the proxy
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""


_BALANCER = """
    client_max_body_size 50m;
    upstream bridge {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://bridge;
            proxy_set_header Host $http_host;
            # a host that refuses or drops the connection: the request goes to the next one
            # (GET and HEAD only: nginx never sends a POST twice)
            proxy_next_upstream error timeout http_502;
            proxy_read_timeout 120s;
            # stream bodies both ways: no temporary files (the test's folders are the user's own)
            proxy_request_buffering off;
            proxy_buffering off;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    url: str
    log: Path


@contextlib.contextmanager
def nginx_proxy(upstream_port: int, prefix: str, tmp: Path) -> Iterator[Nginx]:
    """nginx on 127.0.0.1 serving ``prefix`` from the bridge on ``upstream_port`` (prefix stripped)."""
    port = free_port()
    config = _PREAMBLE.format(tmp=tmp, connections=64) + _PROXY.format(
        port=port, prefix=prefix, upstream=upstream_port, proxy_address=PROXY_ADDRESS
    )
    with _nginx(tmp, port, config, prefix) as nginx:
        yield nginx


@contextlib.contextmanager
def nginx_balancer(upstream_ports: list[int], tmp: Path) -> Iterator[Nginx]:
    """nginx on 127.0.0.1 sharing requests round-robin between the bridges on ``upstream_ports``.

    A host that fails once (refused or dropped connection) is left out for 30 s (``max_fails=1``),
    as a production balancer's health check would.
    """
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in upstream_ports)
    config = _PREAMBLE.format(tmp=tmp, connections=256) + _BALANCER.format(port=port, servers=servers)
    with _nginx(tmp, port, config, "") as nginx:
        yield nginx


@contextlib.contextmanager
def _nginx(tmp: Path, port: int, config: str, prefix: str) -> Iterator[Nginx]:
    """nginx with ``config`` (its folders made in ``tmp``), up once ``prefix``/healthz answers."""
    assert NGINX is not None
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o755)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(exist_ok=True)
        (tmp / name).chmod(0o777)  # nginx's workers may run as another user than the master
    conf = tmp / "nginx.conf"
    conf.write_text(config)
    url = f"http://127.0.0.1:{port}"
    command = [NGINX, "-p", str(tmp), "-c", str(conf)]
    error_log = tmp / "error.log"
    with running(command, ready=f"{url}{prefix}/healthz", log=tmp / "nginx.out", more_logs=[error_log]):
        yield Nginx(url, error_log)
