"""What the commands print: ids, times, validity windows, transactions and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from web3.types import TxReceipt

from radledger.registries.common import FOREVER
from radledger.registries.consent.client import WILDCARD


def hex0x(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def show_record_id(value: bytes) -> str:
    return "all records" if value == WILDCARD else hex0x(value)


def show_time(timestamp: int) -> str:
    if timestamp >= FOREVER:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def show_window(valid_from: int, valid_until: int) -> str:
    if valid_from == 0:
        return f"valid until {show_time(valid_until)}"
    return f"valid from {show_time(valid_from)} until {show_time(valid_until)}"


def print_tx(summary: str, receipt: TxReceipt) -> None:
    print(summary)
    print(f"  tx {receipt['transactionHash'].to_0x_hex()}  block {receipt['blockNumber']}  gas {receipt['gasUsed']:,}")


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True))
