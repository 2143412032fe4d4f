"""How `radledger demo` tells its story: the numbered steps as they happen, and the short text forms
of ids, times, amounts, request statuses and credential checks its lines use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from web3 import Web3
from web3.types import TxReceipt

from radledger.demo.result import DemoStep
from radledger.registries.credentials.types import ReaderVerification
from radledger.registries.preauth.types import PreauthRequest, X12ActionCode

X12_MEANING = {
    X12ActionCode.CERTIFIED_IN_TOTAL: "certified in total",
    X12ActionCode.CERTIFIED_PARTIAL: "certified partial",
    X12ActionCode.NOT_CERTIFIED: "not certified",
    X12ActionCode.PENDED: "pended",
    X12ActionCode.MODIFIED: "modified",
    X12ActionCode.CANCELLED: "cancelled",
}


def short(value: bytes | str) -> str:
    """`0x1a2b3c4d…9e8f`: enough of an id or address to follow it through the story."""
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return f"{text[:10]}…{text[-4:]}"


def when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def status_text(request: PreauthRequest) -> str:
    """`MODIFIED, X12 A2 (certified partial)`: the status and its X12 278 HCR01 action code."""
    code = request.x12_action_code
    return f"{request.status.name}, X12 {code.value} ({X12_MEANING[code]})"


def units_text(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def check_lines(names: Mapping[int, str], result: ReaderVerification) -> list[str]:
    """One line per credential checked: the schema, its name and where the reader stood."""
    lines = []
    for check in result.checks:
        name = names[check.schema_id]
        state = check.state
        if state is None:
            status = check.status.value
        elif state.revoked_at:
            status = f"{check.status.value.upper()} at {when(state.revoked_at)}"
        else:
            status = f"{check.status.value}, until {when(state.valid_until)}"
        lines.append(f"schema {check.schema_id} {name!r}: {status}")
    return lines


class Narrator:
    """Keeps the numbered steps and prints them as they happen."""

    SHOWN_HASHES = 3

    def __init__(self, w3: Web3, out: Callable[[str], None] | None) -> None:
        self.w3 = w3
        self.out = out or (lambda _line: None)
        self.steps: list[DemoStep] = []
        self.receipts: list[TxReceipt] = []

    def say(self, line: str = "") -> None:
        self.out(line)

    def part(self, title: str) -> None:
        self.out("")
        self.out(f"── {title} " + "─" * max(4, 76 - len(title)))

    def mark(self) -> int:
        return int(self.w3.eth.block_number)

    def step(self, actor: str, action: str, receipts: list[TxReceipt] | None = None, *details: str) -> DemoStep:
        receipts = receipts or []
        gas = sum(int(r["gasUsed"]) for r in receipts) if receipts else None
        hashes = tuple(r["transactionHash"].to_0x_hex() for r in receipts)
        step = DemoStep(len(self.steps) + 1, actor, action, gas, hashes, tuple(details))
        self.steps.append(step)
        self.receipts += receipts
        cost = f"gas {gas:,}" if gas is not None else "no transaction"
        self.out(f"{step.number:>2}. {actor}: {action}  [{cost}]")
        for line in details:
            self.out(f"      {line}")
        if len(hashes) > self.SHOWN_HASHES:
            self.out(f"      {len(hashes)} transactions: {short(hashes[0])} … {short(hashes[-1])}")
        else:
            for tx_hash in hashes:
                self.out(f"      tx {short(tx_hash)}")
        return step

    def receipts_since(self, block: int) -> list[TxReceipt]:
        """Receipts of every transaction mined after `block` (deployments included)."""
        out = []
        for number in range(block + 1, self.w3.eth.block_number + 1):
            for tx_hash in self.w3.eth.get_block(number)["transactions"]:
                out.append(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        return out

    def receipts_of(self, tx_hash: str) -> list[TxReceipt]:
        """The receipt of one transaction, as a step's list."""
        return [self.w3.eth.get_transaction_receipt(tx_hash)]  # type: ignore[arg-type]
