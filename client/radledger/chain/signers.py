"""Who signs: an unlocked account of the in-process chain, a private key, or an encrypted keystore.

Keys come from environment variables or keystore files, never from command-line arguments:
:func:`load_signer` reads one (the CLI's --key-env / --keystore, a gateway's [custodian] section).
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from radledger.chain.errors import SignerError
from radledger.chain.files import write_private

SIGNER_KEY_ENV = "RADLEDGER_PRIVATE_KEY"
"""The environment variable holding a signer's key when no other is named (a site, a patient, an issuer...)."""
KEYSTORE_PASSWORD_ENV = "RADLEDGER_KEYSTORE_PASSWORD"
"""The environment variable holding a keystore's password when no other is named."""

_KEY_LIKE = re.compile(r"^(0[xX])?[0-9a-fA-F]{32,}$")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Signer(Protocol):
    """An account that can send transactions and, if it holds a key, sign offline."""

    @property
    def address(self) -> ChecksumAddress: ...

    @property
    def can_sign(self) -> bool:
        """Whether the key is held locally (transactions and EIP-712 messages are signed here)."""
        ...

    def sign_typed_data(self, typed_data: dict[str, Any]) -> bytes:
        """A 65-byte signature over a full EIP-712 message (domain, types, primaryType, message)."""
        ...

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """The raw signed transaction."""
        ...


@dataclass(frozen=True)
class UnlockedAccount:
    """An account the node signs for (the in-process chain's funded accounts)."""

    account: ChecksumAddress

    @property
    def address(self) -> ChecksumAddress:
        return self.account

    @property
    def can_sign(self) -> bool:
        return False

    def sign_typed_data(self, typed_data: dict[str, Any]) -> bytes:
        raise SignerError(f"{self.account} is an unlocked node account: it holds no key to sign offline")

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        raise SignerError(f"{self.account} is an unlocked node account: the node signs its transactions")


@dataclass(frozen=True)
class KeySigner:
    """A private key held in this process."""

    account: LocalAccount = field(repr=False)

    @property
    def address(self) -> ChecksumAddress:
        return to_checksum_address(self.account.address)

    @property
    def can_sign(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"KeySigner({self.address})"

    @classmethod
    def from_key(cls, key: str | bytes) -> KeySigner:
        try:
            return cls(Account.from_key(key))
        except Exception as exc:
            raise SignerError("invalid private key") from exc

    @classmethod
    def create(cls) -> KeySigner:
        """A new random key (synthetic identities for tests and demos)."""
        return cls(Account.create())

    @classmethod
    def from_env(cls, variable: str) -> KeySigner:
        """The key in environment variable `variable` (hex, with or without 0x)."""
        value = os.environ.get(variable)
        if not value:
            raise SignerError(f"environment variable {variable} is not set")
        return cls.from_key(value.strip())

    @classmethod
    def from_keystore(cls, path: Path | str, password: str) -> KeySigner:
        """The key of an encrypted JSON keystore (Web3 Secret Storage)."""
        try:
            keyfile = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SignerError(f"cannot read keystore {path}: {exc}") from exc
        try:
            key = Account.decrypt(keyfile, password)
        except ValueError as exc:
            raise SignerError(f"cannot decrypt keystore {path}: wrong password or damaged file") from exc
        return cls(Account.from_key(key))

    def to_keystore(self, path: Path | str, password: str) -> Path:
        """Write this key as an encrypted keystore file, readable by its owner only."""
        return write_private(path, json.dumps(Account.encrypt(self.account.key, password)))

    def sign_typed_data(self, typed_data: dict[str, Any]) -> bytes:
        signed = self.account.sign_message(encode_typed_data(full_message=typed_data))
        return bytes(signed.signature)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self.account.sign_transaction(tx).raw_transaction)


def load_signer(
    key_env: str | None = None,
    keystore: Path | str | None = None,
    *,
    password_env: str = KEYSTORE_PASSWORD_ENV,
    prompt: bool = True,
) -> KeySigner:
    """The key of encrypted `keystore` (its password from `password_env`, else, with `prompt`, asked
    for), else the key in environment variable `key_env` (default :data:`SIGNER_KEY_ENV`).

    A key given where a variable's name or a file's path belongs is refused without being echoed.
    """
    if keystore:
        path = Path(keystore)
        if not path.is_file():
            if _looks_like_key(str(keystore)):
                raise SignerError("--keystore takes the path of a keystore file: a key is never accepted as an option")
            raise SignerError(f"keystore {path} does not exist")
        password = os.environ.get(password_env)
        if password is None:
            if not prompt:
                raise SignerError(f"no password for {path}: set {password_env}")
            try:
                password = getpass.getpass(f"password for {path}: ")
            except (EOFError, OSError) as exc:
                raise SignerError(f"no password for {path}: set {password_env} or run interactively") from exc
        return KeySigner.from_keystore(path, password)
    variable = key_env or SIGNER_KEY_ENV
    if _looks_like_key(variable):
        raise SignerError(
            "--key-env takes the NAME of an environment variable holding the key, not the key: "
            "a key is never accepted as an option"
        )
    if not _VARIABLE_NAME.fullmatch(variable):
        raise SignerError("--key-env: not an environment variable name")
    return KeySigner.from_env(variable)


def _looks_like_key(text: str) -> bool:
    return bool(_KEY_LIKE.match(text.strip()))
