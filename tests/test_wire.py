"""The wire codec between the grader and the student's process: plain data survives a round trip exactly, anything
else is refused, and no message, however malformed, decodes into something other than plain data or a WireError."""

import json
import math
import socket
import struct
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.checks.plain import to_plain
from autograder.grading.sandbox import wire

DTYPES = ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", ">i4", ">f8"]

arrays = st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(
    np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
scalars = st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 63) | st.floats() | st.text(max_size=8)
plain = st.recursive(scalars | arrays, lambda inner: st.lists(inner, max_size=4)
                     | st.lists(inner, max_size=4).map(tuple)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)


def same(a, b) -> bool:
    """Equal in value and in exact type (a tuple stays a tuple, NaN equals NaN, arrays in native byte order)."""
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return a.shape == b.shape and a.dtype.newbyteorder("=") == b.dtype and np.array_equal(a, b, equal_nan=True)
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=300, deadline=None)
@given(plain)
def test_plain_data_survives_a_round_trip_exactly(value):
    assert same(value, wire.decode(wire.encode(value)))


@given(arrays)
def test_decoded_arrays_are_writable_native_ndarrays_of_their_own(array):
    message = wire.encode(array)
    decoded = wire.decode(message)
    assert type(decoded) is np.ndarray and decoded.flags.writeable and decoded.dtype.isnative
    decoded[...] = 0  # does not write into the message
    assert same(array, wire.decode(message))


def test_non_contiguous_arrays_and_numpy_scalars_travel_as_plain_values():
    grid = np.arange(24.0).reshape(4, 6)
    assert same(np.ascontiguousarray(grid[::2, ::3]), wire.decode(wire.encode(grid[::2, ::3])))
    assert same([1.5, 3, True], wire.decode(wire.encode([np.float64(1.5), np.int32(3), np.bool_(True)])))


def nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


class RiggedArray(np.ndarray):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [
    np.zeros(3).view(RiggedArray), np.array([object()]), np.zeros(2, dtype=complex), np.array(["a"]),
    {1: "integer key"}, {"a"}, object(), b"bytes", 1j, nested(wire.MAX_DEPTH + 2),
    len,
], ids=lambda v: type(v).__name__)
def test_what_is_not_plain_data_is_refused(value):
    with pytest.raises(wire.WireError):
        wire.encode(value)


def test_course_functions_and_generators_travel_by_name_and_state():
    from course import testfunctions

    rng = np.random.default_rng(7)
    rng.random(3)
    decoded = wire.decode(wire.encode([testfunctions.wave, rng]), resolve_function=lambda name: name)
    assert decoded[0] == "course.testfunctions:wave"
    assert decoded[1].random() == rng.random()
    with pytest.raises(wire.WireError):
        wire.decode(wire.encode(testfunctions.wave))  # no resolver: functions are not accepted


def message(tree, lengths, body=b"") -> bytes:
    header = json.dumps([tree, lengths]).encode()
    return struct.pack("<QQ", len(header), len(body)) + header + body


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 7, b"\xff" * 40,
    message({"__nd__": 0, "dtype": "<f8", "shape": [2]}, [8], b"\x00" * 8),        # 2 values, 1 value's bytes
    message({"__nd__": 0, "dtype": "|O", "shape": [1]}, [8], b"\x00" * 8),         # object dtype
    message({"__nd__": 1, "dtype": "<f8", "shape": [1]}, [8], b"\x00" * 8),        # no array 1
    message({"__nd__": 0, "dtype": "<f8", "shape": [-1]}, [8], b"\x00" * 8),       # negative size
    message({"__nd__": 0, "dtype": "<f8", "shape": [1]}, [-8], b""),               # negative length
    message({"__nd__": 0, "dtype": "<f8", "shape": [1]}, [8.0], b"\x00" * 8),      # a length that is no int
    message({"__nd__": 0}, [8], b"\x00" * 8),
    message({"__dict__": [1]}, []), message({"__tuple__": {}}, []), message({"__float__": ["nan"]}, []),
    message({"__float__": "nope"}, []), message({"__class__": "os.system"}, []), message({"a": 1, "b": 2}, []),
    message({"__fn__": "course.data:load_digits"}, []),
    message(0, [4], b"\x00" * 8),                                                   # lengths do not add up
    json.dumps([0, []]).encode(),                                                   # no binary header
])
def test_malformed_messages_are_refused(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_nesting_deeper_than_the_limit_is_refused_when_decoding():
    with pytest.raises(wire.WireError):
        wire.decode(message(nested(wire.MAX_DEPTH + 2), []))


@settings(max_examples=300, deadline=None)
@given(plain, st.data())
def test_a_corrupted_message_decodes_to_plain_data_or_a_wire_error(value, data):
    """Whatever bytes a hostile process sends: a WireError, or plain data (never an object with behaviour)."""
    encoded = bytearray(wire.encode(value))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    try:
        decoded = wire.decode(bytes(encoded[:cut]))
    except wire.WireError:
        return
    to_plain(decoded)  # raises NotPlainData for anything that is not


# --- framing on a socket ------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(plain, st.lists(st.integers(1, 40), max_size=8))
def test_a_message_arrives_whole_however_the_peer_splits_it(value, cuts):
    """One receive() per message, whether the bytes come in one piece (the usual case: one system call) or many."""
    framed = struct.pack("<Q", len(wire.encode(value))) + wire.encode(value)
    pieces, at = [], 0
    for cut in cuts:
        pieces.append(framed[at:at + cut])
        at += cut
    pieces.append(framed[at:])
    ours, theirs = socket.socketpair()
    with ours, theirs:
        # sent from a thread: a large message fills the socket's buffer before receive() starts reading
        sender = threading.Thread(target=lambda: [theirs.sendall(p) for p in pieces if p])
        sender.start()
        received = wire.receive(ours, tree_limit=1 << 20)
        sender.join()
    assert same(value, received)


def test_more_than_one_message_in_a_read_is_refused():
    """A peer sends nothing more until it has its answer: bytes beyond the first message mean one that does not
    follow the protocol (it could otherwise put an answer ahead of the question it answers)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        wire.send(theirs, {"ok": True})
        wire.send(theirs, {"ok": True})
        with pytest.raises(wire.WireError, match="more data than one message"):
            wire.receive(ours)


def test_a_message_over_the_limit_is_refused_before_its_body_is_read():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack("<Q", 10 ** 9))  # and no body: receive() must not wait for it
        ours.settimeout(5)
        with pytest.raises(wire.WireError, match="over the limit"):
            wire.receive(ours, limit=10 ** 6)
