"""`hamsafar run --workers N`: Rasa's production topology on one machine.

    clients ──> nginx (--host:--port) ──> Rasa worker 1..N (127.0.0.1, own ports)
                                            │  tracker store + our data: PostgreSQL (HAMSAFAR_DATABASE_URL)
                                            │  lock store: Redis (HAMSAFAR_REDIS_URL), one conversation at a time
                                            │  event broker: RabbitMQ (HAMSAFAR_RABBITMQ_URL, Rasa's PikaEventBroker)
                                            └─> action server (127.0.0.1:--actions-port)
    RabbitMQ queue ──> touchpoint consumer (bot.touchpoints.consumer) ──> touchpoints table

Every part is a child of one supervisor that restarts a part that exits
(bot.runtime.supervisor). The workers share nothing in memory: a conversation
lives in PostgreSQL, its lock in Redis, so any worker may take any message
(docs/deploy.md). nginx hashes on the web widget's session cookie so a browser's
messages and its live event stream meet in one worker (an instant push instead
of the stream's database poll); everything without that cookie (channel
webhooks, REST, the agent console) is spread over the workers at random.

nginx is Debian's, run unprivileged with a configuration written into
`HAMSAFAR_STATE_DIR/topology-<port>/` (pid, logs and temporary files there too).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from bot import settings
from bot.runtime.supervisor import ManagedProcess

NGINX_CANDIDATES = ("/usr/sbin/nginx", "nginx")
# The widget's session cookie (bot/channels/web/_sessions.py COOKIE): the sticky key.
WEB_COOKIE = "hamsafar_web"


@dataclass
class Topology:
    """The parts of one `--workers N` run and where each listens."""

    workers: int
    host: str
    port: int
    actions_port: int
    worker_ports: List[int]
    directory: Path
    nginx: str

    @property
    def public_url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '::') else self.host}:{self.port}"

    @property
    def access_log(self) -> Path:
        """One line per request: `<upstream worker address> <status> <method> <path>` (tests read it)."""
        return self.directory / "access.log"


def find_nginx() -> Optional[str]:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return found
    return None


def refusal() -> Optional[str]:
    """Why the several-process topology cannot start here, or None.

    Every worker must see the same conversations, locks and events: SQLite, in-memory
    locks or the in-process touchpoint writer would each give every worker its own."""
    missing = []
    database = settings.current().database_url or ""
    if not database.startswith("postgresql"):
        missing.append("HAMSAFAR_DATABASE_URL (PostgreSQL, e.g. postgresql://user@127.0.0.1:5432/hamsafar)")
    if not settings.redis_url():
        missing.append("HAMSAFAR_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    if not settings.rabbitmq_url():
        missing.append("HAMSAFAR_RABBITMQ_URL (e.g. amqp://user:password@127.0.0.1:5672/)")
    if missing:
        return ("[hamsafar] --workers N needs the shared services every worker uses; set "
                + "; ".join(missing) + ". Without --workers, `hamsafar run` is one process on SQLite.")
    if find_nginx() is None:
        return "[hamsafar] --workers N needs nginx (Debian: apt-get install nginx-light)."
    return None


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plan(workers: int, host: str, port: int, actions_port: int) -> Topology:
    directory = settings.STATE_DIR / f"topology-{port}"
    return Topology(workers=workers, host=host, port=port, actions_port=actions_port,
                    worker_ports=[free_loopback_port() for _ in range(workers)],
                    directory=directory, nginx=find_nginx() or "nginx")


def nginx_config(topology: Topology) -> str:
    """nginx.conf: one unprivileged master in the foreground, everything under the topology's directory."""
    d = topology.directory
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in topology.worker_ports)
    listen = f"[{topology.host}]:{topology.port}" if ":" in topology.host else f"{topology.host}:{topology.port}"
    return f"""# Written by `hamsafar run --workers {topology.workers}` (bot/runtime/topology.py); rewritten on every start.
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    log_format upstream '$upstream_addr $status $request_method $uri';
    access_log {topology.access_log} upstream;
    server_tokens off;
    # The widget's session cookie picks the worker (its messages and its event stream meet);
    # without it (webhooks, REST, console) a random key spreads requests over the workers.
    map $cookie_{WEB_COOKIE} $hamsafar_worker_key {{
        ""      $request_id;
        default $cookie_{WEB_COOKIE};
    }}
    upstream rasa_workers {{
        hash $hamsafar_worker_key consistent;
{servers}
        keepalive 64;
    }}
    server {{
        listen {listen};
        # The largest body Rasa accepts (bot/runtime/request_limits.py); the workers check each path.
        client_max_body_size 1m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        # Set, not appended: a client cannot choose the address rate limits see (SANIC_PROXIES_COUNT=1).
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 120s;
        # A worker that refuses the connection (dead, restarting): the request goes to another.
        # A request already sent is not sent twice (POST is not idempotent).
        proxy_next_upstream error timeout;
        location / {{
            proxy_pass http://rasa_workers;
        }}
        location ~ ^/webhooks/web/events$ {{
            proxy_pass http://rasa_workers;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 90s;
        }}
    }}
}}
"""


def write_nginx_config(topology: Topology) -> Path:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (topology.directory / "tmp" / name).mkdir(parents=True, exist_ok=True)
    path = topology.directory / "nginx.conf"
    path.write_text(nginx_config(topology), encoding="utf-8")
    return path


def processes(topology: Topology, env: Dict[str, str], polling_env: Dict[str, str]) -> List[ManagedProcess]:
    """Action server, touchpoint consumer, the workers and nginx, each restarted when it exits.

    `polling_env` (Telegram/Bale polling) goes to worker 1 only: one poller per bot token."""
    root = str(settings.PROJECT_ROOT)
    endpoints = settings.current().endpoints
    worker_env = {**env, "SANIC_PROXIES_COUNT": "1"}   # nginx's X-Forwarded-For is the client's address
    parts = [
        ManagedProcess("action server", [sys.executable, "-m", "bot.runtime.action_server", "--port", str(topology.actions_port)],
                       env, root, restart=True),
        ManagedProcess("touchpoint consumer", [sys.executable, "-m", "bot.touchpoints.consumer"], env, root, restart=True),
    ]
    for number, port in enumerate(topology.worker_ports, start=1):
        parts.append(ManagedProcess(
            f"Rasa worker {number}",
            [sys.executable, "-m", "bot.runtime.rasa_server", "run", "--model", "models", "--endpoints", endpoints,
             "--credentials", "credentials.yml", "--interface", "127.0.0.1", "--port", str(port)],
            {**worker_env, **(polling_env if number == 1 else {})}, root, restart=True))
    config = write_nginx_config(topology)
    parts.append(ManagedProcess("nginx", [topology.nginx, "-p", str(topology.directory), "-c", str(config), "-e", str(topology.directory / "error.log")],
                                env, root, restart=True))
    return parts


def describe(topology: Topology) -> List[str]:
    """A line per part saying where it runs (no secrets: URLs are printed without credentials)."""
    from urllib.parse import urlsplit

    def where(url: Optional[str]) -> str:
        parts = urlsplit(url or "")
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"

    lines = [f"load balancer:        nginx on {topology.public_url} (config {topology.directory / 'nginx.conf'})"]
    for number, port in enumerate(topology.worker_ports, start=1):
        lines.append(f"Rasa worker {number}:        http://127.0.0.1:{port}")
    lines += [
        f"action server:        http://127.0.0.1:{topology.actions_port}",
        f"touchpoint consumer:  queue {settings.rabbitmq_queue()} on {where(settings.rabbitmq_url())}",
        f"tracker store + data: {where(settings.current().database_url)}",
        f"lock store:           {where(settings.redis_url())}",
    ]
    return lines
