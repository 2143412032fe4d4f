"""Compile the contracts with the pinned npm `solc` (wasm) through py-solc-x.

No compiler is downloaded: py-solc-x's ``compile_standard`` runs ``tools/solc-shim.cjs``, a
Node script that gives the npm package the command-line face of a native solc. The
standard-JSON input is self-contained (every imported source inlined, OpenZeppelin
included), so it hashes deterministically and doubles as the input for source
verification on a block explorer.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radledger.chain.errors import CompilerError

EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200
VIA_IR = True
CONTRACTS_DIR = "contracts"
SHIM = Path("tools") / "solc-shim.cjs"

_IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^;"']*?\s+from\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)
_OUTPUT = [
    "abi",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
    "evm.methodIdentifiers",
    "metadata",
]


@dataclass(frozen=True)
class CompileInput:
    """A self-contained standard-JSON input and its hash."""

    standard_json: dict[str, Any]
    solc_version: str
    source_hash: str


def pinned_solc_version(root: Path) -> str:
    """The exact `solc` version pinned in package.json."""
    package = json.loads((root / "package.json").read_text())
    version = package.get("devDependencies", {}).get("solc") or package.get("dependencies", {}).get("solc")
    if not version or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise CompilerError(f"package.json must pin solc to an exact version, found {version!r}")
    return str(version)


def _source_file(root: Path, unit: str) -> Path:
    if unit.startswith(CONTRACTS_DIR + "/"):
        return root / unit
    return root / "node_modules" / unit


def _resolve(importer: str, target: str) -> str:
    if target.startswith("./") or target.startswith("../"):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), target))
    return target


def collect_sources(root: Path) -> dict[str, str]:
    """Every source unit under contracts/ and everything it imports, by source unit name."""
    pending = sorted(p.relative_to(root).as_posix() for p in (root / CONTRACTS_DIR).rglob("*.sol"))
    if not pending:
        raise CompilerError(f"no Solidity sources under {root / CONTRACTS_DIR}")
    sources: dict[str, str] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = _source_file(root, unit)
        if not path.is_file():
            hint = " (run `npm ci` at the project root)" if not unit.startswith(CONTRACTS_DIR) else ""
            raise CompilerError(f"source {unit!r} not found at {path}{hint}")
        text = path.read_text()
        sources[unit] = text
        pending.extend(_resolve(unit, imp) for imp in _IMPORT_RE.findall(text))
    return dict(sorted(sources.items()))


def build_input(root: Path) -> CompileInput:
    """The standard-JSON input for the project at `root` and its source hash."""
    solc_version = pinned_solc_version(root)
    standard_json: dict[str, Any] = {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in collect_sources(root).items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "viaIR": VIA_IR,
            "evmVersion": EVM_VERSION,
            "outputSelection": {"*": {"*": _OUTPUT}},
        },
    }
    canonical = json.dumps({"solc": solc_version, "input": standard_json}, sort_keys=True, separators=(",", ":"))
    return CompileInput(standard_json, solc_version, hashlib.sha256(canonical.encode()).hexdigest())


def _shim(root: Path) -> Path:
    shim = root / SHIM
    if not shim.is_file():
        raise CompilerError(f"compiler shim missing: {shim}")
    if shutil.which("node") is None:
        raise CompilerError("Node.js is required to compile (the compiler is the npm `solc` package)")
    if not (root / "node_modules" / "solc").is_dir():
        raise CompilerError("node_modules/solc is missing: run `npm ci` at the project root")
    return shim


def compile_artifacts(root: Path, compile_input: CompileInput | None = None) -> dict[str, dict[str, Any]]:
    """Compile and return one artifact document per deployable contract under contracts/."""
    import solcx  # imported here: only contributors who compile need it

    compile_input = compile_input or build_input(root)
    shim = _shim(root)
    try:
        output = solcx.compile_standard(
            compile_input.standard_json, solc_binary=shim, base_path=str(root), allow_paths=[str(root)]
        )
    except solcx.exceptions.SolcError as exc:
        try:
            output = json.loads(exc.stdout_data or "")
        except (TypeError, ValueError):
            raise CompilerError(f"compilation failed: {exc.message}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilerError("compilation failed:\n" + "\n".join(e["formattedMessage"] for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    for unit, contracts in output["contracts"].items():
        if not unit.startswith(CONTRACTS_DIR + "/"):
            continue
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode:
                continue  # interfaces and abstract contracts
            if name in artifacts:
                raise CompilerError(f"two contracts named {name}: {artifacts[name]['sourceName']} and {unit}")
            metadata = json.loads(data["metadata"])
            artifacts[name] = {
                "contractName": name,
                "sourceName": unit,
                "abi": data["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                "immutableReferences": data["evm"]["deployedBytecode"].get("immutableReferences", {}),
                "methodIdentifiers": data["evm"]["methodIdentifiers"],
                "compiler": {"version": metadata["compiler"]["version"], "settings": metadata["settings"]},
                "sourceHash": compile_input.source_hash,
            }
    return dict(sorted(artifacts.items()))


def render(artifact: dict[str, Any]) -> str:
    """The exact text an artifact file holds (deterministic)."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def write_artifacts(root: Path, out_dir: Path) -> list[Path]:
    """Compile and write `<Name>.json` per contract and `standard-input.json` into `out_dir`."""
    compile_input = build_input(root)
    artifacts = compile_artifacts(root, compile_input)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stale in out_dir.glob("*.json"):
        if stale.stem not in artifacts and stale.name != "standard-input.json":
            stale.unlink()
    for name, artifact in artifacts.items():
        path = out_dir / f"{name}.json"
        path.write_text(render(artifact))
        written.append(path)
    standard = out_dir / "standard-input.json"
    standard.write_text(json.dumps(compile_input.standard_json, indent=1, sort_keys=True) + "\n")
    written.append(standard)
    return written


def stale_reasons(root: Path, out_dir: Path, recompile: bool = True) -> list[str]:
    """Why the artifacts in `out_dir` do not match the sources (empty when fresh).

    Compares the source hash; with `recompile`, also compiles and compares every file byte for byte.
    """
    compile_input = build_input(root)
    existing = {p.stem: p for p in out_dir.glob("*.json") if p.name != "standard-input.json"}
    if not existing:
        return [f"no artifacts in {out_dir}"]
    reasons = []
    for name, path in sorted(existing.items()):
        recorded = json.loads(path.read_text()).get("sourceHash")
        if recorded != compile_input.source_hash:
            reasons.append(f"{name}: source hash {recorded} != {compile_input.source_hash}")
    if reasons or not recompile:
        return reasons
    fresh = compile_artifacts(root, compile_input)
    for name in sorted(set(fresh) | set(existing)):
        if name not in existing:
            reasons.append(f"{name}: artifact missing")
        elif name not in fresh:
            reasons.append(f"{name}: artifact of a contract that no longer exists")
        elif existing[name].read_text() != render(fresh[name]):
            reasons.append(f"{name}: artifact differs from a fresh compile")
    return reasons
