"""Registry, config validation and resource readings (true unit tests: no queue needed)."""
from __future__ import annotations

import threading

import pytest
import yaml

from engine.configs import CONFIG_DIR, ConfigError, default_config, parse_config_yaml, validate_config
from engine.core import Registry, UnknownFamilyError
from engine.families import FAMILIES
from engine.resources import ResourceSampler, read_resources


def test_unknown_family_error_lists_valid_keys():
    reg = Registry("family")
    with pytest.raises(UnknownFamilyError) as err:
        reg["nope"]
    assert str(err.value) == "unknown family 'nope'; valid: (none registered)"


def test_yaml_syntax_error_names_line_and_column(stack):
    with pytest.raises(ConfigError) as err:
        parse_config_yaml(FAMILIES["toy"], "epochs: 3\n  batches: [1\n")
    assert "line 2" in str(err.value)


def test_choice_error_lists_allowed_values(stack):
    with pytest.raises(ConfigError) as err:
        validate_config(FAMILIES["anomaly"], {"optimizer": "sgdx"})
    (e,) = err.value.errors
    assert e.field == "optimizer" and "'adam'" in e.message and "'sgdx'" in e.message
    with pytest.raises(ConfigError) as err:  # device is a checked string now: its message lists the forms
        validate_config(FAMILIES["toy"], {"device": "tpu"})
    (e,) = err.value.errors
    assert e.field == "device" and "cpu" in e.message and "'tpu'" in e.message


def test_non_mapping_config_is_rejected(stack):
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config_yaml(FAMILIES["toy"], "- 1\n- 2\n")


@pytest.mark.parametrize("key", sorted(k for k in FAMILIES if k != "toy"))
def test_defaults_yaml_matches_the_config_model(key):
    """configs/<family>.yaml and the pydantic defaults are one source of truth, kept equal."""
    family = FAMILIES[key]
    path = CONFIG_DIR / f"{key}.yaml"
    assert path.exists(), f"{path} is missing"
    text = path.read_text()
    assert yaml.safe_load(text) == family.config_model().model_dump(mode="json")
    assert default_config(family) == family.config_model().model_dump(mode="json")
    # every top-level key is documented with a '# (type) meaning' comment
    for line in text.splitlines():
        if line and not line.startswith((" ", "#", "-")) and ":" in line:
            assert "# (" in line, f"{path.name}: key without a '# (type) meaning' comment: {line!r}"


def test_resource_reading_has_plausible_values():
    r = read_resources()
    assert 0 <= r.cpu_percent <= 100 and 0 < r.ram_percent <= 100 and r.ram_mb > 1


def test_sampler_calls_its_sink_until_stopped():
    seen = []
    got_two = threading.Event()

    def sink(reading):
        seen.append(reading)
        if len(seen) >= 2:
            got_two.set()

    with ResourceSampler(sink, interval=0.05):
        assert got_two.wait(5)
    n = len(seen)
    got_two.wait(0.2)
    assert len(seen) == n
