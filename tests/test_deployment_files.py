"""docker/: the image and compose file can only be built where a Docker daemon runs, so these tests check
what can drift from the code without one: every command the compose file runs is a valid `mortar`
command line, every MORTAR_* variable it sets is a setting, and what the Dockerfile copies exists."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from metastore.config import Settings
from mortar.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
MORTAR_SERVICES = {name: s for name, s in COMPOSE["services"].items() if s.get("image") == "mortar:latest"}
WEB_VARIABLES = {"MORTAR_WEB_PORT", "MORTAR_WEB_SECURE_COOKIES", "MORTAR_WEB_TRUST_PROXY",
                 "MORTAR_SECRET_KEY"}  # fmt: skip


def test_the_compose_file_runs_every_part_of_mortar():
    assert {s["command"][0] for s in MORTAR_SERVICES.values()} == {"metastore", "web", "worker", "scheduler"}


@pytest.mark.parametrize("service", sorted(MORTAR_SERVICES))
def test_each_service_runs_a_valid_command_with_known_settings(service):
    spec = MORTAR_SERVICES[service]
    # unknown options fail while parsing, before --help answers
    result = CliRunner().invoke(main, [*spec["command"], "--help"], prog_name="mortar")
    assert result.exit_code == 0, result.output
    fields = {f"MORTAR_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    unknown = {k for k in spec["environment"] if k.startswith("MORTAR_")} - fields - WEB_VARIABLES
    assert not unknown


def test_the_dockerfile_copies_what_exists_and_installs_known_extras():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    extras = re.search(r"'\.\[([a-z0-9,]+)\]'", text).group(1).split(",")
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in extras:
        assert re.search(rf"^{extra} = \[", pyproject, re.M), extra
