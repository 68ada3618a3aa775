"""Every module's documentation matches what it accepts (ansible-test's
validate-modules checks the same; this runs in a second, without it)."""

import glob
import importlib
import os

import pytest
import yaml

PACKAGE = "ansible_collections.kubernaut.devinfra.plugins"
HERE = os.path.dirname(os.path.abspath(__file__))
MODULES_DIR = os.path.join(HERE, "..", "..", "..", "..", "plugins", "modules")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(MODULES_DIR, "*.py"))
                 if not p.endswith("__init__.py"))
SECRET_OPTIONS = ("password", "secrets", "files")


def load(name):
    return importlib.import_module("%s.modules.%s" % (PACKAGE, name))


def fragment_options(fqcn):
    name, _sep, variant = fqcn.split(".", 2)[2].partition(".")
    cls = importlib.import_module("%s.doc_fragments.%s" % (PACKAGE, name)).ModuleDocFragment
    text = getattr(cls, variant.upper()) if variant else cls.DOCUMENTATION
    return yaml.safe_load(text).get("options") or {}


def documented_options(name):
    doc = yaml.safe_load(load(name).DOCUMENTATION)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment", []):
        options.update(fragment_options(fragment))
    return doc, options


def accepted_options(name, monkeypatch):
    """Run main() far enough to capture the argument spec it builds; for a
    module that is only documentation of an action plugin, the plugin's spec."""
    mod = load(name)
    if not hasattr(mod, "main"):
        action = importlib.import_module("%s.action.%s" % (PACKAGE, name))
        return dict(action.ARGUMENT_SPEC, __check_mode__=action.ActionModule._supports_check_mode)
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


def test_every_module_is_covered():
    assert len(MODULES) >= 13


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
        if option in SECRET_OPTIONS:
            assert rules.get("no_log") is True, option
    assert doc["version_added"] == "0.1.0"
    assert doc["attributes"]["check_mode"]["support"] in ("full", "partial")


@pytest.mark.parametrize("name", MODULES)
def test_examples_and_return_are_yaml(name):
    mod = load(name)
    assert yaml.safe_load(mod.EXAMPLES)
    assert isinstance(yaml.safe_load(mod.RETURN), dict)
