"""The compiled contracts shipped in the package (ABI, bytecode, source hash)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from radledger.chain.artifact_dir import default_dir
from radledger.chain.errors import ArtifactNotFound


@dataclass(frozen=True)
class Artifact:
    name: str
    source_name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    immutable_references: dict[str, list[dict[str, int]]]
    source_hash: str
    compiler_version: str

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Artifact:
        return cls(
            name=doc["contractName"],
            source_name=doc["sourceName"],
            abi=tuple(doc["abi"]),
            bytecode=doc["bytecode"],
            deployed_bytecode=doc["deployedBytecode"],
            immutable_references=doc.get("immutableReferences", {}),
            source_hash=doc["sourceHash"],
            compiler_version=doc["compiler"]["version"],
        )


@cache
def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    """The artifact of contract `name` from `directory` (default: the package's own)."""
    path = (directory or default_dir()) / f"{name}.json"
    if not path.is_file():
        raise ArtifactNotFound(f"no artifact for contract {name!r} in {path.parent}")
    return Artifact.from_json(json.loads(path.read_text()))


def artifact_names(directory: Path | None = None) -> list[str]:
    """Names of all contracts with an artifact in `directory`."""
    return sorted(p.stem for p in (directory or default_dir()).glob("*.json") if p.name != "standard-input.json")
