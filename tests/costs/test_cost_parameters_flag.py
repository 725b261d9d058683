"""`hefl run --cost-parameters FILE`: the budgeted controllers plan with the file's constants and
the paillier strategy's counted round; a bad file is one line naming the flag."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from hefl.cli.main import main
from hefl.cli.run import build_controller
from hefl.control.controllers import BudgetedController
from hefl.costs import CostParameters


def _args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    from hefl.cli.main import build_parser

    return build_parser().parse_args(["run", "--quiet", "--out", str(tmp_path / "o"), *extra])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read cost parameters"),
        (json.dumps({"mu_multiplicatoin": 1.0}), "unknown cost parameter"),
        (json.dumps({"mu_decryption": -1.0}), "mu_decryption must be a positive"),
    ],
)
def test_a_bad_cost_parameters_file_is_one_line_naming_the_flag(
    content: str, message: str, tmp_path: Path, capsys
) -> None:
    bad = tmp_path / "params.json"
    bad.write_text(content)
    argv = ["run", "--controller", "joint", "--energy", "100", "--cost-parameters", str(bad)]
    assert main([*argv, "--quiet", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--cost-parameters" in err and message in err
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_a_missing_file_and_a_fixed_controller_are_refused(tmp_path: Path, capsys) -> None:
    missing = str(tmp_path / "nowhere.json")
    argv = ["run", "--controller", "joint", "--energy", "1", "--cost-parameters", missing]
    assert main([*argv, "--quiet", "--out", str(tmp_path / "a")]) == 1
    assert "--cost-parameters" in capsys.readouterr().err
    good = tmp_path / "good.json"
    CostParameters().save(good)
    assert (
        main(["run", "--cost-parameters", str(good), "--quiet", "--out", str(tmp_path / "b")]) == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cost-parameters" in err and "--controller fixed" in err


def test_the_joint_controller_gets_the_files_constants_priced_as_planned(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    CostParameters(mu_multiplication=1234.0, mu_decryption=5.0e6, b0=9.0).save(good)
    args = _args(
        tmp_path, "--controller", "joint", "--energy", "5", "--cost-parameters", str(good),
        "--dataset", "boston",
    )  # fmt: skip
    controller = build_controller(args)
    assert isinstance(controller, BudgetedController)
    params = controller.config.params
    assert (params.mu_multiplication, params.mu_decryption) == (1234.0, 5.0e6)
    assert params.local_update == "planned" and params.b0 == 1.5  # Boston's B0 of Table 1
    plain = build_controller(_args(tmp_path, "--controller", "joint", "--energy", "5",
                                   "--strategy", "plain"))  # fmt: skip
    assert isinstance(plain, BudgetedController)
    assert plain.config.params.local_update == "per-step"  # no counted work to price with


def test_a_file_calibrated_at_another_key_size_is_refused(tmp_path: Path, capsys) -> None:
    other = tmp_path / "3072.json"
    CostParameters(operations_key_bits=3072).save(other)
    argv = ["run", "--controller", "joint", "--energy", "1", "--cost-parameters", str(other)]
    assert main([*argv, "--quiet", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "3072-bit" in err and "--key-bits 2048" in err


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hefl_run_takes_the_file_hefl_costs_calibrate_writes(tmp_path: Path) -> None:
    out = tmp_path / "params.json"
    argv = ["costs", "calibrate", "--out", str(out), "--key-bits", "1024", "--participants", "2"]
    assert main([*argv, "--tau", "2", "--repeats", "1"]) == 0
    written = CostParameters.load(out)
    defaults = CostParameters()
    assert written.mu_multiplication != defaults.mu_multiplication  # measured, not the default
    assert written.mu_decryption != defaults.mu_decryption
    assert written.operations_key_bits == 1024
    args = _args(
        tmp_path, "--controller", "joint", "--energy", "5", "--cost-parameters", str(out),
        "--key-bits", "1024", "--allow-insecure-keys",
    )  # fmt: skip
    controller = build_controller(args)
    assert isinstance(controller, BudgetedController)
    assert controller.config.params.mu_multiplication == written.mu_multiplication
