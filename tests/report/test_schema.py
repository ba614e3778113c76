"""The JSON of ``explain`` validates against docs/explain.schema.json."""

from __future__ import annotations

import json

import jsonschema
import pytest
from testpaths import ROOT

from vxlanlens.explain import FINDING_IDS

from .helpers import LABS, hostile, lab, reference

SCHEMA = json.loads((ROOT / "docs" / "explain.schema.json").read_text(encoding="utf-8"))


def test_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    "scenario", ["reference", "reference-no-topology", "hostile", *LABS, "lab-mtu-df"]
)
def test_output_validates(scenario):
    cap = {
        "reference": lambda: reference(),
        "reference-no-topology": lambda: reference(False),
        "hostile": hostile,
    }.get(scenario, lambda: lab(scenario))()
    doc = json.loads(cap.report("json"))
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    assert {f["id"] for f in doc["findings"]} <= set(FINDING_IDS)


def test_schema_rejects_what_it_should():
    doc = json.loads(reference().report("json"))
    validator = jsonschema.Draft202012Validator(SCHEMA)
    bad = json.loads(json.dumps(doc))
    bad["findings"][0]["severity"] = "fatal"
    assert list(validator.iter_errors(bad))
    bad = json.loads(json.dumps(doc))
    bad["paths"][0]["hops"][0].pop("observed")
    assert list(validator.iter_errors(bad))
    bad = json.loads(json.dumps(doc))
    bad["schema_version"] = 2
    assert list(validator.iter_errors(bad))


def test_plain_input_validates():
    """A capture that shows no overlay (host-to-host paths, ``host`` hops) validates too."""
    from testpaths import CAPTURES

    import vxlanlens

    path = CAPTURES / "real-ping-stopped" / "tcpdump-c5.pcap"
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    doc = json.loads(vxlanlens.read(str(path)).report("json"))
    assert {h["kind"] for p in doc["paths"] for h in p["hops"]} == {"host", "network"}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)] == []
