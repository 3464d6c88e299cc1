"""``standin.gotypes``: a JSON value against v4.8's Go model field types."""

from __future__ import annotations

import pytest

from drp_plugin.standin.gotypes import unmarshal_error


@pytest.mark.parametrize(("prefix", "obj", "error"), [
    ("profiles", {"Params": 12}, "json: cannot unmarshal number into Go struct field "
     "Profile.Params of type map[string]interface {}"),
    ("profiles", {"Params": {}, "Profiles": ["a"], "Name": "p", "Description": None}, None),
    ("machines", {"Runnable": "yes"}, "json: cannot unmarshal string into Go struct field "
     "Machine.Runnable of type bool"),
    ("machines", {"Uuid": "x", "Address": "1.2.3.4", "CurrentTask": -1, "Tasks": []}, None),
    ("machines", {"Meta": []}, "json: cannot unmarshal array into Go struct field "
     "Machine.Meta of type models.Meta"),
    ("machines", {"Fingerprint": {"SSNHash": ""}, "Unknown": 5}, None),
    ("tasks", {"Templates": {}}, "json: cannot unmarshal object into Go struct field "
     "Task.Templates of type []models.TemplateInfo"),
    ("profiles", [1], "json: cannot unmarshal array into Go value of type models.Profile"),
    ("fake-cows", {"Spotted": 3}, None),  # no Go model: RawModel takes anything
])
def test_unmarshal_error(prefix: str, obj: object, error: str | None) -> None:
    assert unmarshal_error(prefix, obj) == error
