"""A throw-away PostgreSQL server for the tests: initdb in a temporary directory, a free port on
127.0.0.1, trust authentication, fsync off; stopped (and its directory removed) at the end.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` system user
(``runuser``), otherwise as the current user. Binaries come from ``pg_config --bindir`` or
``/usr/lib/postgresql/*/bin``. Missing binaries skip the PostgreSQL tests, unless
``RADLEDGER_REQUIRE_POSTGRES=1`` (CI), which fails them instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REQUIRE_ENV = "RADLEDGER_REQUIRE_POSTGRES"
USER = "radledger"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine, or the server did not start."""


def find_bindir() -> Path | None:
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError):
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    port: int
    as_postgres: bool

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(argv[:1])} failed: {done.stderr.strip() or done.stdout.strip()}")

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable("no PostgreSQL server binaries (apt-get install postgresql)")
        folder = Path(tempfile.mkdtemp(prefix="radledger-pg-"))
        as_postgres = os.geteuid() == 0
        if as_postgres:
            shutil.chown(folder, "postgres")
        server = cls(bindir, folder, _free_port(), as_postgres)
        data = folder / "data"
        server._run(
            str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        options = (
            f"-k {folder} -p {server.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        server._run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
