"""Configuration: malformed files are refused with the line or field that is wrong."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from telltales import hookimpl
from telltales.config import load_config
from telltales.errors import ConfigError
from telltales.plugins import Registry, load_registry
from telltales.signals.settings import source_settings


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    window_days: int = 90


class Configurable:
    name = "survey"
    settings_type = Settings

    def compute(self, batch: object) -> list[object]:
        return []


class Plugin:
    @hookimpl
    def register_signal_sources(self, register: object) -> None:
        register(Configurable())  # type: ignore[operator]


@pytest.fixture
def with_survey() -> Registry:
    return load_registry(extra=[("survey", Plugin())], use_entry_points=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "telltales.toml"
    path.write_text(text)
    return path


def test_no_file_means_defaults(with_survey: Registry) -> None:
    config = load_config(None)
    assert source_settings(config, with_survey)["survey"] == Settings(window_days=90)


def test_settings_are_decoded_for_their_source(tmp_path: Path, with_survey: Registry) -> None:
    config = load_config(write(tmp_path, "[plugins.survey]\nwindow_days = 30\n"))
    assert source_settings(config, with_survey)["survey"] == Settings(window_days=30)
    assert len(config.config_id) == 12


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[plugins.survey]\nwindow_days = = 3\n")
    with pytest.raises(ConfigError, match=r"telltales.toml: not valid TOML: .*line 2"):
        load_config(path)


def test_unknown_top_level_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown field `plugin`"):
        load_config(write(tmp_path, "[plugin.survey]\nwindow_days = 3\n"))


def test_a_wrong_type_names_the_setting(tmp_path: Path, with_survey: Registry) -> None:
    config = load_config(write(tmp_path, '[plugins.survey]\nwindow_days = "a month"\n'))
    with pytest.raises(
        ConfigError, match=r"plugins\.survey\.window_days: expected `int`, got `str`"
    ):
        source_settings(config, with_survey)


def test_a_misspelled_setting_is_refused(tmp_path: Path, with_survey: Registry) -> None:
    config = load_config(write(tmp_path, "[plugins.survey]\nwindow_day = 3\n"))
    with pytest.raises(
        ConfigError, match="plugins.survey: object contains unknown field `window_day`"
    ):
        source_settings(config, with_survey)


def test_settings_for_a_source_that_is_not_installed_are_refused(
    tmp_path: Path, registry: Registry
) -> None:
    config = load_config(write(tmp_path, "[plugins.survey]\nwindow_days = 3\n"))
    with pytest.raises(ConfigError, match=r"\[plugins.survey\] names no installed signal source"):
        source_settings(config, registry)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "missing.toml")


def test_a_configuration_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[scoring]\ndefault = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.toml: not UTF-8 text \(byte 24\)"):
        load_config(latin)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf[scoring]\n")
    with pytest.raises(ConfigError, match="byte-order mark"):
        load_config(bom)


def test_metrics_settings_are_read_and_checked_with_their_line(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, "[metrics]\nmin_renewals = 30\nconfidence = 0.9\n"))
    assert loaded.values.metrics.min_renewals == 30
    assert loaded.values.metrics.confidence == 0.9
    assert loaded.values.metrics.min_episodes == 20
    assert load_config(None).values.metrics.min_renewals == 20
    with pytest.raises(ConfigError, match=r"line 3: metrics\.min_runs: expected `int` >= 1"):
        load_config(write(tmp_path, "[metrics]\nmin_renewals = 30\nmin_runs = 0\n"))
    with pytest.raises(
        ConfigError, match="line 2: metrics: object contains unknown field `min_renewal`"
    ):
        load_config(write(tmp_path, "[metrics]\nmin_renewal = 30\n"))
