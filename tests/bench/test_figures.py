"""The README's performance figures are generated from the benches' JSON: the committed README
quotes exactly what deploy/bench_results.json says, and deploy/perf_figures.py writes and checks
the block from a fresh (toy) bench result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hefl.bench import secagg as bench_secagg
from hefl.bench.figures import BEGIN, END, read_results, render_figures, replace_block
from hefl.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "perf_figures.py"


def test_readme_quotes_the_committed_results() -> None:
    results = read_results(ROOT / "deploy" / "bench_results.json")
    readme = (ROOT / "README.md").read_text()
    block = render_figures(results)
    assert block in readme
    assert replace_block(readme, block) == readme
    for name in ("crypto", "round", "secagg"):
        assert f"`hefl bench {name}`" in block
    # every figure is the JSON's, e.g. the honest-floor ratio of each round run
    for run in results["round"]:
        assert f"{run['ratios']['round_vs_kernel_floor']:.2f}× hefl's own kernels" in block
        assert run["machine"]["date"] in block


@pytest.fixture(scope="module")
def toy_secagg() -> dict:
    return bench_secagg.run(
        sizes=[300], n_clients=3, kappa1=512, paillier_bits=512, paillier_sample=60
    )


def test_script_writes_and_checks_the_block(tmp_path, toy_round, toy_secagg) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"round": [toy_round], "secagg": toy_secagg}))
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n## Benchmarks\n\n{BEGIN}\nold figures\n{END}\n\n## after\n")

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--results",
                str(results),
                "--readme",
                str(readme),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    assert script("--check").returncode == 1
    assert script("--write").returncode == 0
    text = readme.read_text()
    assert "old figures" not in text and text.endswith("## after\n")
    assert "`hefl bench round` on synthetic-6 (d = 6, N = 2, τ = 2;" in text
    assert "setup included" in text
    later = toy_round["job_chain"]["later_mean"]  # the job's ledger costs, from the same JSON
    assert (
        f"a later round mines {sum(later['transactions_by_function'].values()):.0f} "
        f"transactions for {later['gas']:,.0f} gas and sends the node {later['requests']:.0f} "
        f"requests ({later['requests_by_method']['eth_call']:.0f} eth_call)."
    ) in text
    assert script("--check").returncode == 0
    printed = script().stdout.strip()
    assert printed == render_figures(read_results(results), results.name)


def test_an_older_round_result_without_ledger_costs_is_quoted_without_them(toy_round) -> None:
    older = {k: v for k, v in toy_round.items() if k not in ("job_rounds", "job_chain")}
    block = render_figures({"round": [older]})
    assert "`hefl bench round` on synthetic-6" in block and "eth_call" not in block
    assert "eth_call" in render_figures({"round": [toy_round]})


def test_a_readme_without_markers_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="no generated performance block"):
        replace_block("# README without the block\n", render_figures({}))


def test_a_scale_result_is_quoted_as_its_grid() -> None:
    """Each (d, N) cell quotes the round with parallel participants and the serial round."""
    from hefl.bench import scale as bench_scale

    result = bench_scale.run(quick=True, grid=((4, 2), (6, 2), (4, 3)))
    text = render_figures({"scale": result})
    assert "`hefl bench scale`" in text and result["machine"]["date"] in text
    assert "| d \\ N | 2 | 3 |" in text
    for row in result["rows"]:
        quoted = f"{row['round_parallel_participants_s']:.1f} ({row['round_serial_s']:.1f})"
        assert quoted in text
    assert "| 6 | " in text and "| – |" in text  # (6, 3) was not run
