"""The fast indented JSON writer gives what ``json.dumps(obj, indent=2, default=str)`` gives."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import numpy as np
import pytest

import vxlanlens
from vxlanlens.report.jsontext import dumps_indented

ROOT = Path(__file__).resolve().parents[2]


class _Number(enum.IntEnum):
    THREE = 3


class _Word(str, enum.Enum):
    WORD = "wörd"


def _same(obj: object) -> None:
    assert dumps_indented(obj) == json.dumps(obj, indent=2, default=str)


@pytest.mark.parametrize(
    "obj",
    [
        1,
        "text",
        None,
        True,
        2.5,
        float("nan"),
        [],
        {},
        (),
        [1],
        {"a": 1},
        [float("inf"), -float("inf"), True, False, None, (), [], {}, {"x": ()}],
        [_Number.THREE, _Word.WORD, np.int64(3), np.float64(0.1), np.bool_(True), 'é\n"\x1b'],
        {7: "a", 2.5: "b", True: "c", False: "d", None: "e", _Number.THREE: "f", _Word.WORD: "g"},
        {"set": {1}, "object": object, "nested": (1, (2, {"z": [[], {}]}))},
    ],
)
def test_same_text_as_the_standard_library(obj: object) -> None:
    _same(obj)


def test_refuses_the_keys_json_refuses() -> None:
    with pytest.raises(TypeError):
        dumps_indented({(1, 2): 1})
    with pytest.raises(TypeError):
        json.dumps({(1, 2): 1}, indent=2, default=str)


def test_same_text_for_an_explanation() -> None:
    folder = ROOT / "captures" / "cilium-dual-stack"
    cap = vxlanlens.read(
        [str(p) for p in sorted(folder.glob("*.pcap"))], topology=[str(folder / "topology")]
    )
    _same(cap.explain().to_dict())
