"""Weak production settings are refused in one line: short keys, any spelling of the development key, and
storage split between S3 and local folders outside the embedded local mode."""

from __future__ import annotations

import pytest

from harmwatch.cli import main
from harmwatch.config import DEV_PSEUDONYM_KEY, load_settings

GOOD_KEY = "0123456789abcdef0123456789abcdef"  # 32 bytes
ALL_S3 = {"landing_uri": "s3://b/landing", "lake_uri": "s3://b/lake", "reports_uri": "s3://b/reports"}


def refusals(**over: object) -> list[str]:
    return load_settings(**{"runner": "kubernetes", **ALL_S3, "pseudonym_key": GOOD_KEY, **over}).refusals()


def test_a_strong_key_on_all_remote_storage_passes(hw_env):
    assert refusals() == []


@pytest.mark.parametrize(
    "key",
    [
        DEV_PSEUDONYM_KEY + "\n",
        " " + DEV_PSEUDONYM_KEY,
        DEV_PSEUDONYM_KEY.upper(),
        "Harmwatch-Local-Dev-Key\r\n",
        DEV_PSEUDONYM_KEY + "-padded-to-be-long-enough-xxxxxxxxxx",
    ],
)
def test_every_variant_of_the_development_key_is_refused(hw_env, key):
    found = refusals(pseudonym_key=key)
    assert len(found) == 1 and "variant of the development key" in found[0]


@pytest.mark.parametrize("key", ["k", "x" * 31, "é" * 15])  # 1, 31 and 30 bytes
def test_keys_shorter_than_32_bytes_are_refused(hw_env, key):
    found = refusals(pseudonym_key=key)
    assert len(found) == 1 and "too short" in found[0] and "at least 32" in found[0]


def test_a_key_of_32_multibyte_characters_counts_bytes(hw_env):
    assert refusals(pseudonym_key="é" * 16) == []  # 32 bytes in UTF-8


@pytest.mark.parametrize(
    "stores",
    [
        {"lake_uri": "/var/lake"},  # landing on S3, local lake
        {"landing_uri": "/var/landing"},  # the reverse
        {"reports_uri": "/var/reports"},
    ],
)
def test_mixed_remote_and_local_storage_is_refused_with_runner_kubernetes(hw_env, stores):
    found = refusals(**stores)
    assert len(found) == 1 and "mixes remote and local" in found[0]
    assert next(iter(stores.values())) in found[0]


def test_a_local_runner_with_a_lake_on_s3_and_a_local_landing_zone_is_refused(hw_env):
    found = load_settings(lake_uri="s3://b/lake", reports_uri="s3://b/r", pseudonym_key=GOOD_KEY).refusals()
    assert len(found) == 1 and "landing" in found[0] and "mixes remote and local" in found[0]


def test_the_embedded_local_mode_keeps_its_development_key(hw_env):
    assert load_settings().refusals() == []


def test_the_cli_refuses_in_one_line_naming_the_setting(hw_env, monkeypatch, capsys):
    monkeypatch.setenv("HARMWATCH_RUNNER", "kubernetes")
    monkeypatch.setenv("HARMWATCH_PSEUDONYM_KEY", DEV_PSEUDONYM_KEY + "\n")
    assert main(["ingest"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "HARMWATCH_PSEUDONYM_KEY" in err
    monkeypatch.setenv("HARMWATCH_PSEUDONYM_KEY", GOOD_KEY)
    monkeypatch.setenv("HARMWATCH_LANDING_URI", "s3://b/landing")
    assert main(["ingest"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "mixes remote and local" in err
