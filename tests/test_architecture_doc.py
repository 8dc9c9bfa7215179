"""docs/architecture.md's model table names every model of our apps, and only those.

No database: the models come from Django's app registry, the table from the document's
"## Models" section, one row per model whose first two cells are `app_label.Model` and
`table`.
"""

import re
from pathlib import Path

from django.apps import apps

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
OUR_APPS = ("registration", "offices", "appointments", "counter", "supervision")
ROW = re.compile(r"^\| `(?P<label>\w+\.\w+)` \| `(?P<table>\w+)` \|", re.MULTILINE)


def model_table() -> list[tuple[str, str]]:
    """The (model label, table name) rows of the "## Models" section, in order."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## Models\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return [(m["label"], m["table"]) for m in ROW.finditer(section)]


def our_models() -> dict[str, type]:
    return {m._meta.label: m for m in apps.get_models() if m._meta.app_label in OUR_APPS}


def test_our_apps_are_installed():
    installed = {config.label for config in apps.get_app_configs()}
    assert set(OUR_APPS) <= installed


def test_every_model_of_our_apps_is_in_the_table():
    documented = {label for label, _table in model_table()}
    missing = sorted(set(our_models()) - documented)
    assert not missing, f"models missing from docs/architecture.md's model table: {missing}"


def test_every_model_in_the_table_exists():
    rows = model_table()
    labels = [label for label, _table in rows]
    assert len(labels) == len(set(labels)), "a model is listed twice"
    unknown = sorted(set(labels) - set(our_models()))
    assert not unknown, f"docs/architecture.md lists models that do not exist: {unknown}"


def test_each_row_names_the_models_table():
    models = our_models()
    wrong = {
        label: (table, models[label]._meta.db_table)
        for label, table in model_table()
        if label in models and models[label]._meta.db_table != table
    }
    assert not wrong, f"table names in docs/architecture.md (documented, actual): {wrong}"
