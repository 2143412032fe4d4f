"""The post-deploy setup file (TOML): who the deployment starts with.

Sections (each optional)::

    [admin]
    handoff_to = "0x..."          # a multisig: gets the admin role, the deployer renounces its roles

    [[custodians]]                # RecordRegistry: imaging sites and the public URL of their gateway
    account = "0x..."
    gateway_url = "https://gateway.site-a.example/dicomweb"

    [[emergency_accounts]]        # ConsentRegistry: break-glass accounts (emergency departments)
    account = "0x..."

    [[roles]]                     # any other role of any deployed contract
    contract = "RecordRegistry"
    role = "CUSTODIAN_REGISTRAR_ROLE"
    account = "0x..."

A section belongs to a contract of the deployment (see ``ContractSpec.setup`` in
:mod:`radledger.deploy`): `issuers` and `payers` take effect once the contracts that hold
them are part of it. Unknown keys are refused, so a typo never silently skips a step.
Only addresses and URLs go here: no keys, no patient data.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.chain.files import read_document

GENERIC_SECTIONS = frozenset({"admin", "roles"})


@dataclass(frozen=True)
class SetupConfig:
    """A parsed setup file: the hand-over address and the entries of every section."""

    handoff_to: ChecksumAddress | None = None
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    source: str = "<setup>"

    def entries(self, section: str) -> list[dict[str, Any]]:
        return self.sections.get(section, [])


def parse_setup(doc: dict[str, Any], source: str = "<setup>") -> SetupConfig:
    """Check a setup document's shape (addresses, URLs) before anything is sent."""
    handoff = None
    admin = doc.get("admin", {})
    if not isinstance(admin, dict) or set(admin) - {"handoff_to"}:
        raise ConfigurationError(f"{source}: [admin] takes only handoff_to")
    if admin.get("handoff_to"):
        handoff = _address(admin["handoff_to"], f"{source}: admin.handoff_to")
    sections: dict[str, list[dict[str, Any]]] = {}
    for name, entries in doc.items():
        if name == "admin":
            continue
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigurationError(f"{source}: [[{name}]] must be a list of tables")
        sections[name] = [dict(e) for e in entries]
    for i, entry in enumerate(sections.get("roles", [])):
        _require_keys(entry, {"contract", "role", "account"}, {"label"}, f"{source}: roles[{i}]")
        entry["account"] = _address(entry["account"], f"{source}: roles[{i}].account")
    return SetupConfig(handoff, sections, source)


def load_setup(path: Path | str) -> SetupConfig:
    target = Path(path)
    return parse_setup(read_document(target, "setup file", tomllib.loads), str(target))


def _address(value: Any, what: str) -> ChecksumAddress:
    try:
        return validation.nonzero_address(value, what)
    except ValidationError as exc:
        raise ConfigurationError(str(exc)) from None


def _require_keys(entry: dict[str, Any], required: set[str], optional: set[str], what: str) -> None:
    missing = required - set(entry)
    unknown = set(entry) - required - optional
    if missing:
        raise ConfigurationError(f"{what}: missing {', '.join(sorted(missing))}")
    if unknown:
        raise ConfigurationError(f"{what}: unknown key(s) {', '.join(sorted(unknown))}")


def entry_address(entry: dict[str, Any], key: str, what: str, optional: set[str] | None = None) -> ChecksumAddress:
    """`entry[key]` as an address, after checking the entry has `key` and nothing unexpected
    (besides `optional` keys and a free-text `label`, which is never sent)."""
    _require_keys(entry, {key}, (optional or set()) | {"label"}, what)
    return _address(entry[key], f"{what}.{key}")


def entry_text(entry: dict[str, Any], key: str, what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what}.{key}: expected a non-empty string")
    return value.strip()
