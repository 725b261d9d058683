"""The newcomers' map (issue 11, item 10): the package docstring of ``hefl`` and the README's layout
section carry the same table from the paper's equations and the modes to modules, and every module
and contract it names exists."""

from __future__ import annotations

import importlib.util
import pkgutil
import re
from pathlib import Path

import hefl

ROOT = Path(__file__).resolve().parents[1]


def _docstring_modules() -> list[str]:
    return re.findall(r":mod:`(hefl[\w.]*)`", hefl.__doc__ or "")


def _readme_map() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| paper / mode | module |")
    return readme[start : readme.index("\n\n", start)]


def test_every_module_the_map_names_exists():
    names = _docstring_modules()
    assert len(names) >= 20
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    assert missing == []


def test_every_contract_the_map_names_exists():
    contracts = re.findall(r"``contracts/(\w+\.sol)``", hefl.__doc__ or "")
    assert contracts and all((ROOT / "contracts" / c).is_file() for c in contracts)


def test_readme_table_and_docstring_name_the_same_modules_in_the_same_order():
    readme_modules = re.findall(r"`(hefl(?:\.\w+)*)`", _readme_map())
    assert readme_modules == _docstring_modules()


def test_every_subpackage_is_on_the_map():
    packages = {m.name for m in pkgutil.iter_modules(hefl.__path__) if m.ispkg}
    on_map = {name.split(".")[1] for name in _docstring_modules() if name.count(".") >= 1}
    assert packages - on_map == set()
