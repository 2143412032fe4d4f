"""A locked-down local Orthanc with its DICOMweb plugin, for tests, benchmarks and trying the gateway.

Debian's packages `orthanc` and `orthanc-dicomweb` provide the server and
`/usr/share/orthanc/plugins/libOrthancDicomWeb.so`. Orthanc 1.10 listens on every interface
and has no bind address, so the process started here is closed down instead: remote HTTP
access refused (`RemoteAccessAllowed: false`), HTTP authentication with a generated user and
password that only the gateway is given, the DICOM server disabled (no C-STORE from anyone),
no modalities or peers, no Lua, WebDAV or file-system writes; storage in a folder of the
caller's; free ports.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from radledger.chain.errors import ConfigurationError
from radledger.gateway.processes import stop_process

ORTHANC_ENV = "RADLEDGER_ORTHANC"
"""Path of the Orthanc binary, when it is not `Orthanc` on PATH."""
DICOMWEB_PLUGIN_ENV = "RADLEDGER_ORTHANC_DICOMWEB"
DEFAULT_DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
REQUIRE_ENV = "RADLEDGER_REQUIRE_ORTHANC"
"""When set (CI), tests that need Orthanc fail instead of skipping without it."""
DICOMWEB_ROOT = "/dicom-web/"


def find_orthanc() -> tuple[Path, Path] | None:
    """(binary, DICOMweb plugin), or None when either is missing."""
    binary = os.environ.get(ORTHANC_ENV) or shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    plugin = Path(os.environ.get(DICOMWEB_PLUGIN_ENV) or DEFAULT_DICOMWEB_PLUGIN)
    if not Path(binary).is_file() or not plugin.is_file():
        return None
    return Path(binary), plugin


def required() -> bool:
    """Whether a missing Orthanc is an error (``RADLEDGER_REQUIRE_ORTHANC=1``) rather than a reason to skip."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing_reason() -> str:
    return (
        "Orthanc with its DICOMweb plugin is not installed (Debian: apt-get install orthanc orthanc-dicomweb; "
        f"or set ${ORTHANC_ENV} and ${DICOMWEB_PLUGIN_ENV})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def orthanc_config(
    folder: Path, http_port: int, username: str, password: str, plugin: Path, stable_age: int
) -> dict[str, Any]:
    storage = str(folder / "storage")
    return {
        "Name": "radledger-local",
        "StorageDirectory": storage,
        "IndexDirectory": storage,
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {username: password},
        "HttpCompressionEnabled": False,
        "KeepAlive": True,
        "TcpNoDelay": True,
        "HttpThreadsCount": 32,
        "SslEnabled": False,
        "DicomServerEnabled": False,
        "DicomPort": free_port(),
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": False,
        "DicomAlwaysAllowStore": False,
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "DicomModalities": {},
        "OrthancPeers": {},
        "WebDavEnabled": False,
        "ExecuteLuaEnabled": False,
        "RestApiWriteToFileSystemEnabled": False,
        "SaveJobs": False,
        "StableAge": stable_age,
        "OverwriteInstances": True,
        "Plugins": [str(plugin)],
        "DicomWeb": {"Enable": True, "Root": DICOMWEB_ROOT, "EnableWado": False},
    }


@dataclass
class LocalOrthanc:
    """A running Orthanc; stop it with :meth:`stop` (or use it as a context manager)."""

    folder: Path
    http_port: int
    username: str
    password: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return self.url + DICOMWEB_ROOT.rstrip("/")

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    @classmethod
    def start(cls, folder: Path | str, stable_age: int = 60, timeout: float = 15.0) -> LocalOrthanc:
        found = find_orthanc()
        if found is None:
            raise ConfigurationError(missing_reason())
        binary, plugin = found
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        username, password = "radledger-gateway", secrets.token_urlsafe(24)
        last_error = ""
        for _ in range(3):  # a free port can be taken between choosing and binding it
            port = free_port()
            config = root / "orthanc.json"
            config.write_text(json.dumps(orthanc_config(root, port, username, password, plugin, stable_age), indent=2))
            config.chmod(0o600)
            log = (root / "orthanc.log").open("ab")
            process = subprocess.Popen(
                [str(binary), str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()
            orthanc = cls(root, port, username, password, process)
            if orthanc._wait_ready(timeout):
                return orthanc
            orthanc.stop()
            last_error = (root / "orthanc.log").read_text(errors="replace")[-2000:]
        raise ConfigurationError(f"Orthanc did not start: {last_error}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(self.url + "/system", auth=self.auth, timeout=1.0, verify=False).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        return False

    def stop(self, kill: bool = False) -> None:
        """Stop Orthanc (SIGTERM: about 2 s for its HTTP server to wind down; `kill`: at once, for a
        throwaway server whose storage is deleted anyway)."""
        stop_process(self.process, signal.SIGKILL if kill else signal.SIGTERM)

    def __enter__(self) -> LocalOrthanc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers

    def upload(self, *files: bytes) -> list[str]:
        """Store DICOM files (Orthanc's REST API); returns their Orthanc instance ids."""
        ids = []
        with httpx.Client(auth=self.auth, timeout=30, verify=False) as client:  # plain HTTP on localhost
            for data in files:
                response = client.post(self.url + "/instances", content=data)
                response.raise_for_status()
                ids.append(str(response.json()["ID"]))
        return ids

    def delete_instance(self, sop_instance_uid: str) -> None:
        with httpx.Client(auth=self.auth, timeout=30, verify=False) as client:  # plain HTTP on localhost
            found = client.post(
                self.url + "/tools/find", json={"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}}
            )
            found.raise_for_status()
            for orthanc_id in found.json():
                client.delete(f"{self.url}/instances/{orthanc_id}").raise_for_status()
