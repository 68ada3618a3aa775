"""The PostgreSQL modules' documentation matches what they accept (no PostgreSQL needed)."""

import importlib

import pytest
import yaml

from ansible_collections.kubernaut.devinfra.plugins.doc_fragments.postgres import ModuleDocFragment as PostgresDoc
from ansible_collections.kubernaut.devinfra.plugins.doc_fragments.wait import ModuleDocFragment as WaitDoc

FRAGMENTS = {
    "kubernaut.devinfra.postgres": yaml.safe_load(PostgresDoc.DOCUMENTATION)["options"],
    "kubernaut.devinfra.wait": yaml.safe_load(WaitDoc.DOCUMENTATION)["options"],
}
MODULES = ["postgres_ready", "postgres_migrate", "postgres_suite_databases"]


def load(name):
    return importlib.import_module("ansible_collections.kubernaut.devinfra.plugins.modules." + name)


def documented_options(name):
    doc = yaml.safe_load(load(name).DOCUMENTATION)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment", []):
        options.update(FRAGMENTS[fragment])
    return doc, options


def accepted_options(name, monkeypatch):
    """Run main() far enough to capture the argument spec it builds."""
    mod = load(name)
    captured = {}

    class Stop(Exception):
        pass

    def fake_module(argument_spec, **kwargs):
        captured.update(argument_spec)
        captured["__check_mode__"] = kwargs.get("supports_check_mode")
        raise Stop()

    monkeypatch.setattr(mod, "AnsibleModule", fake_module)
    with pytest.raises(Stop):
        mod.main()
    return captured


@pytest.mark.parametrize("name", MODULES)
def test_docs_match_argument_spec(name, monkeypatch):
    doc, documented = documented_options(name)
    spec = accepted_options(name, monkeypatch)
    assert spec.pop("__check_mode__") is True
    assert set(documented) == set(spec)
    for option, rules in spec.items():
        assert documented[option]["type"] == rules["type"], option
        if "default" in rules:
            assert documented[option].get("default") == rules["default"], option
        assert documented[option].get("required", False) == rules.get("required", False), option
    assert doc["version_added"] == "0.1.0"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert spec["password"]["no_log"] is True


@pytest.mark.parametrize("name", MODULES)
def test_examples_and_return_are_yaml(name):
    mod = load(name)
    assert yaml.safe_load(mod.EXAMPLES)
    assert isinstance(yaml.safe_load(mod.RETURN), dict)
