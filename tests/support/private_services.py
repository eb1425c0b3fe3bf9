"""Private PostgreSQL, Redis and RabbitMQ servers on free ports, for benches and tests that restart them.

The machine's own services (PostgreSQL 5432, Redis 6379, RabbitMQ 5672) are shared with
other work and must never be stopped. A fault bench or test that restarts a service starts
its own instance instead, from the Debian binaries, with every file in a temporary folder:

* PostgreSQL: `initdb` and `pg_ctl` from `/usr/lib/postgresql/<version>/bin`, run as the
  `postgres` user (PostgreSQL refuses to run as root) through `runuser`; trust
  authentication on 127.0.0.1 only.
* Redis: `redis-server` on 127.0.0.1, no persistence (locks are all it holds here).
* RabbitMQ: a node of its own (`RABBITMQ_NODENAME`, node and distribution ports, mnesia and
  logs in the folder, no plugins, not the machine's configuration or env file). As root,
  Debian's `/usr/sbin/rabbitmq-server` wrapper switches to the `rabbitmq` user, who could
  not write the folder; the script it wraps runs the node as root, with `HOME` (and so the
  Erlang cookie) in the folder. Durable queues and persistent messages survive its restart.

Each has `start()`, `stop()` and `restart(down_s)`: stopped cleanly, kept down `down_s`
seconds, started again on the same port with the same data.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from tests.conftest import free_port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_port(port: int, up: bool, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while _listening(port) != up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} {'did not start' if up else 'did not stop'} within {timeout_s:.0f} s")
        time.sleep(0.1)


class PrivatePostgres:
    """A PostgreSQL cluster of its own, on a free port.

    Its files are in a folder of its own under the system's temporary directory, not in the
    caller's: the `postgres` user must reach them, and a caller's folder (pytest's
    `/tmp/pytest-of-root/...`) may sit below directories only root can enter. `remove()` deletes it."""

    def __init__(self, folder: Optional[Path] = None) -> None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not candidates:
            raise FileNotFoundError("PostgreSQL server binaries not found (Debian: postgresql)")
        self.bin = Path(candidates[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="hamsafar-postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        as_root = os.geteuid() == 0
        full = ["runuser", "-u", "postgres", "--", *command] if as_root else list(command)
        done = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command[:1])} failed ({done.returncode}):\n{done.stdout[-2000:]}")

    def start(self) -> "PrivatePostgres":
        if not self.data.exists():
            if os.geteuid() == 0:
                shutil.chown(self.folder, "postgres")
            self.folder.chmod(0o700)
            self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                              "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300 "
                   "-c fsync=off -c synchronous_commit=off")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
                          "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self, down_s: float = 0.0) -> None:
        """`pg_ctl stop -m fast` (open connections are ended, transactions rolled back), then start again."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """`redis-server` of its own on a free port, without persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "redis"
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=log, stderr=log, start_new_session=True)
        log.close()
        _wait_port(self.port, True, 30, "redis-server")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        _wait_port(self.port, False, 30, "redis-server")

    def restart(self, down_s: float = 0.0) -> None:
        """SIGTERM (every lock it held is gone: nothing is persisted), then start again."""
        self.stop()
        time.sleep(down_s)
        self.start()


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (name, ports, data and logs) in `folder`."""

    SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"

    def __init__(self, folder: Path) -> None:
        if not os.access(self.SCRIPT, os.X_OK):
            raise FileNotFoundError("RabbitMQ not found (Debian: rabbitmq-server)")
        self.folder = folder / "rabbitmq"
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"hamsafar-{self.port}@localhost"
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> Dict[str, str]:
        f = self.folder
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
            "HOME": str(f),   # the Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(f / "mnesia"),
            "RABBITMQ_LOG_BASE": str(f / "log"),
            "RABBITMQ_PID_FILE": str(f / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(f / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(f / "rabbitmq"),      # none: not the machine's listeners on 5672
            "RABBITMQ_CONF_ENV_FILE": str(f / "rabbitmq-env.conf"),   # none: not the machine's NODENAME
        }

    def start(self, timeout_s: float = 120) -> "PrivateRabbitMQ":
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "enabled_plugins").write_text("[].\n")
        log = open(self.folder / "server.out", "ab")
        self.process = subprocess.Popen([self.SCRIPT], env=self._env(), cwd=self.folder, stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        _wait_port(self.port, True, timeout_s, "rabbitmq-server")
        return self

    def stop(self) -> None:
        """`rabbitmqctl stop`: a clean shutdown (connections closed with 320 CONNECTION_FORCED)."""
        if self.process is None or self.process.poll() is not None:
            return
        subprocess.run([self.CTL, "-n", self.node, "stop"], env=self._env(), cwd=self.folder,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        _wait_port(self.port, False, 30, "rabbitmq-server")

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


class PrivateServices:
    """The three together; `stop_all()` in reverse order (also after a failed start)."""

    def __init__(self, folder: Path) -> None:
        self.postgres = PrivatePostgres(folder)
        self.redis = PrivateRedis(folder)
        self.rabbitmq = PrivateRabbitMQ(folder)
        self._started: List[object] = []

    def start_all(self) -> "PrivateServices":
        for service in (self.postgres, self.redis, self.rabbitmq):
            service.start()
            self._started.append(service)
        return self

    def stop_all(self) -> None:
        for service in reversed(self._started):
            try:
                service.stop()   # type: ignore[attr-defined]
            except Exception as error:  # noqa: BLE001 - stop the others all the same
                print(f"could not stop {service.__class__.__name__}: {error}")
        self._started.clear()
        self.postgres.remove()
