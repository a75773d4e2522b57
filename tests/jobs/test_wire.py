"""What may travel on a queue: plain JSON data, and bytes only as base64 through ``pack``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from jobs.wire import SERIALIZER, NotPlainData, pack, require_plain, unpack


@pytest.mark.parametrize("value, named", [
    (object(), "payload[1]['x'] is a builtins.object"),
    (b"\x89PNG", "payload[1]['x'] is a builtins.bytes"),
    ({1, 2}, "payload[1]['x'] is a builtins.set"),
    ({3: "three"}, "payload[1]['x'] has the key 3 (int)"),
    (np.float32(1.5), "payload[1]['x'] is a numpy.float32"),
])
def test_require_plain_names_the_value_that_is_not_json_data(value, named):
    with pytest.raises(NotPlainData) as err:
        require_plain([1, {"x": value}])
    assert str(err.value).startswith(named)


def test_plain_data_passes_and_survives_the_serializer():
    value = [1, 2.5, float("inf"), True, None, "ü", {"a": [{"b": []}]}]
    require_plain(value)
    assert SERIALIZER.loads(SERIALIZER.dumps(value)) == value


def test_pack_carries_bytes_and_numpy_values_as_json_and_unpack_restores_the_bytes():
    png = bytes(range(256))
    packed = pack({"image": png, "scores": np.arange(3, dtype=np.float32), "best": np.int64(2), "names": {0: "cat"},
                   "box": (1, 2)})
    require_plain(packed)
    wire = json.loads(json.dumps(packed))
    assert unpack(wire) == {"image": png, "scores": [0.0, 1.0, 2.0], "best": 2, "names": {"0": "cat"},
                            "box": [1, 2]}
    with pytest.raises(NotPlainData, match="builtins.set"):  # pack converts; it does not make anything plain
        require_plain(pack({"tags": {"a"}}))
