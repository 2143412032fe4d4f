"""`brownie run scripts/demo.py` (or `python scripts/demo.py`): the consent story on the in-process chain.

A thin main() over :func:`radledger.demo.run_demo`; the demo runs on its own embedded chain,
whatever network brownie is connected to, and needs nothing but the radledger package.
"""

from __future__ import annotations

from radledger.demo.result import DemoResult
from radledger.demo.story import run_demo


def main() -> DemoResult:
    return run_demo()


if __name__ == "__main__":
    main()
