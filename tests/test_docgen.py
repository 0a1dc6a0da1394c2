"""The settings and metrics reference pages are generated from their declarations and current:
a setting or metric added without its description, or without regenerating, fails here."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from orchestrator import docgen
from orchestrator.record import METRIC_SPECS


def test_the_committed_reference_pages_are_the_generated_ones(capsys):
    assert docgen.main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_page_is_reported_and_left_alone(tmp_path, capsys):
    (tmp_path / "settings.md").write_text("old\n")
    assert docgen.main(["--check", "--docs", str(tmp_path)]) == 1
    assert "settings.md" in capsys.readouterr().err
    assert (tmp_path / "settings.md").read_text() == "old\n"
    assert docgen.main(["--docs", str(tmp_path)]) == 0
    assert docgen.main(["--check", "--docs", str(tmp_path)]) == 0


@pytest.mark.parametrize("heading, model", docgen.SETTINGS_SECTIONS, ids=[h for h, _ in docgen.SETTINGS_SECTIONS])
def test_every_setting_is_declared_with_a_description(heading, model):
    assert model.__doc__, f"{model.__name__}: no docstring for its section"
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []


def test_every_setting_and_metric_appears_on_its_page():
    settings = docgen.settings_page()
    for _, model in docgen.SETTINGS_SECTIONS:
        for name in model.model_fields:
            if (model, name) not in docgen.LOADER_FIELDS:
                assert f"| `{name}` |" in settings
    metrics = docgen.metrics_page()
    assert all(f"| `{spec.name}` |" in metrics for spec in METRIC_SPECS)


def test_types_ranges_and_defaults_read_as_yaml_users_write_them():
    class Example(BaseModel):
        """An example."""

        unit: str | None = Field(None, description="d")
        period: float = Field(gt=0, description="d")
        corners: list[str] = Field(min_length=1, description="d")
        kind: int = Field(3, ge=1, le=8, description="d")

    fields = Example.model_fields
    assert docgen.type_text(fields["unit"].annotation) == "str or null"
    assert docgen.range_text(fields["period"].metadata) == "> 0"
    assert docgen.range_text(fields["corners"].metadata) == "non-empty"
    assert docgen.range_text(fields["kind"].metadata) == "≥ 1, ≤ 8"
    assert docgen.default_text(fields["period"]) == "required"
    assert docgen.default_text(fields["kind"]) == "`3`"
