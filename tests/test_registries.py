"""The registries are complete: every model module is in bot.schema.MODEL_MODULES, every
table that can hold customer data is erased by one of bot.touchpoints.erasure.ERASERS, and
every `register(subparsers)` module is in bot.cli.COMMAND_MODULES.

The security issue once found a table without an eraser; these tests fail on the next one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Set

import pytest

from tests.support.python_source import parse_python

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def modules_declaring_models() -> Set[str]:
    """Modules of bot/ with a class whose bases include `Base` (SQLAlchemy declarative), read with ast."""
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        tree = parse_python(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    (isinstance(b, ast.Name) and b.id == "Base") or (isinstance(b, ast.Attribute) and b.attr == "Base")
                    for b in node.bases):
                found.add(module_name(path))
    return found


def test_every_module_with_models_is_registered() -> None:
    from bot.schema import MODEL_MODULES

    registered = {module.__name__ for module in MODEL_MODULES}
    declaring = modules_declaring_models()
    assert "bot.crm.models" in declaring  # the scan sees models at all
    assert declaring == registered, f"not in bot.schema.MODEL_MODULES: {declaring - registered}; " \
                                    f"registered without models: {registered - declaring}"


def test_init_db_creates_every_table_of_every_model(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from bot import db, schema

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    tables = set(sa.inspect(schema.init_db(url)).get_table_names())
    assert set(db.Base.metadata.tables) <= tables
    db.dispose_engines()


def erased_tables(url: str) -> Dict[str, Set[str]]:
    """{eraser module: tables it reports} from running every eraser on an empty database."""
    from bot import schema
    from bot.touchpoints.erasure import ERASERS

    reported: Dict[str, Set[str]] = {}
    with schema.init_db(url).begin() as conn:
        for eraser in ERASERS:
            counts = eraser(conn, "C-REGISTRY", ["web:w.registry", "sms:+989120000000", "tg:1"])
            # a key names the table, then maybe what was done instead of a delete: "orders (address blanked)"
            reported[eraser.__module__] = {re.sub(r" \(.*\)$", "", key) for key in counts}
    return reported


def test_every_table_with_customer_data_has_an_eraser(tmp_path: Path) -> None:
    from bot import db
    from bot.touchpoints.erasure import NO_CUSTOMER_DATA

    reported = erased_tables(f"sqlite:///{tmp_path / 'erasers.db'}")
    covered = set().union(*reported.values()) | {"touchpoints"}  # touchpoints: bot.touchpoints.erasure itself
    tables = set(db.Base.metadata.tables)
    assert covered <= tables, f"erasers report tables that do not exist: {covered - tables}"
    assert not covered & set(NO_CUSTOMER_DATA), "a table both erased and listed as holding no customer data"
    assert set(NO_CUSTOMER_DATA) <= tables, f"NO_CUSTOMER_DATA names no table: {set(NO_CUSTOMER_DATA) - tables}"
    missing = tables - covered - set(NO_CUSTOMER_DATA)
    assert not missing, f"tables no eraser covers (add an eraser or a reason in NO_CUSTOMER_DATA): {missing}"
    db.dispose_engines()


def test_a_table_added_without_an_eraser_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a new table on Base that nobody erases."""
    import sqlalchemy as sa

    from bot import db
    from bot.touchpoints.erasure import NO_CUSTOMER_DATA

    table = sa.Table("registry_probe_notes", db.Base.metadata, sa.Column("customer_id", sa.String(64)))
    try:
        reported = erased_tables(f"sqlite:///{tmp_path / 'probe.db'}")
        covered = set().union(*reported.values()) | {"touchpoints"}
        assert "registry_probe_notes" in set(db.Base.metadata.tables) - covered - set(NO_CUSTOMER_DATA)
    finally:
        db.Base.metadata.remove(table)
        db.dispose_engines()


def test_every_command_module_is_registered() -> None:
    from bot.cli import COMMAND_MODULES

    registered = {module.__name__ for module in COMMAND_MODULES}
    defining = set()
    for path in (ROOT / "bot").rglob("cli.py"):
        tree = parse_python(path)
        if any(isinstance(node, ast.FunctionDef) and node.name == "register" for node in tree.body):
            defining.add(module_name(path))
    assert defining and defining == registered


def test_registries_import_by_name_in_code() -> None:
    """No registry goes back to strings and importlib (a missing module would surface only when used)."""
    for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "actions").rglob("*.py")):
        assert "importlib" not in path.read_text(encoding="utf-8"), path.relative_to(ROOT)


@pytest.mark.parametrize("name", ["kavenegar", "twilio"])
def test_sms_gateways_are_registered(name: str) -> None:
    from bot.channels.sms_gateways import GATEWAYS

    assert GATEWAYS[name].name == name


def test_an_unknown_sms_gateway_name_stops_the_channel() -> None:
    from bot.channels.sms import SmsInput

    with pytest.raises(ValueError, match="unknown gateway 'kavenegr'.*kavenegar, twilio"):
        SmsInput.from_credentials({"gateway": "kavenegr", "kavenegar_api_key": "k"})
