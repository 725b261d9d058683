"""Gas is part of the design: a submission stays within 1.3× the bare minimum for what it stores."""

from __future__ import annotations

from hefl.chain import Chain
from hefl.chain.gas import SUBMIT_TARGET_RATIO, gas_table, measure_ledger_gas


def test_submit_within_target_of_bare_minimum(embedded_chain: Chain) -> None:
    rows = {row.operation: row for row in measure_ledger_gas(embedded_chain, participants=5)}
    for name in ("submit (model + extra hash)", "submit (model hash only)"):
        row = rows[name]
        assert row.ratio is not None and row.ratio <= SUBMIT_TARGET_RATIO, gas_table(
            tuple(rows.values())
        )
    # Votes never write a fresh slot (openRound pre-initialises the vote slot).
    assert rows["attest"].gas < 21_000 + 22_100
    assert rows["dispute"].gas < 21_000 + 22_100
