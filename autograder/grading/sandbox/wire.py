"""Plain data on the wire: a codec that cannot execute anything, and length-prefixed messages on a socket.

A message is a JSON header, [tree of plain values, lengths of its arrays], followed by the arrays' raw bytes.
Arrays become {"__nd__": index, "dtype": "<f8", "shape": [...]}; course functions {"__fn__": "course.mod:name"};
numpy Generators {"__rng__": bit generator state}. Decoding checks every dtype, shape and length, so a hostile
peer can send wrong data but never an object with behaviour of its own. No pickle anywhere.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 20
_DTYPES = {"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"}
_NATIVE = {name: np.dtype(name).newbyteorder("=") for name in _DTYPES}  # what a decoded array is made of
_SCALARS = frozenset({type(None), bool, int, float, str})
_NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
_HEADER = struct.Struct("<QQ")  # JSON length, total array bytes


class WireError(ValueError):
    """Malformed or oversized data from the other side."""


def encode(value) -> bytes:
    """value -> bytes: a JSON header [tree, array lengths], then the arrays' raw bytes. WireError if not plain."""
    buffers: list[bytes] = []

    def walk(item, depth):
        if depth > MAX_DEPTH:
            raise WireError("nested too deep")
        kind = type(item)
        if kind in _SCALARS:
            if kind is float and not math.isfinite(item):  # NaN and infinities do not survive JSON as numbers
                return {"__float__": "nan" if item != item else ("inf" if item > 0 else "-inf")}
            return item
        if kind is np.ndarray:
            array = item.astype(item.dtype.newbyteorder("<")) if item.dtype.byteorder == ">" else item
            dtype = array.dtype.str
            if dtype not in _DTYPES:
                raise WireError(f"arrays of dtype {array.dtype} are not plain data")
            buffers.append(array.tobytes())  # in C order, whatever the strides (and a 0-d array stays 0-d)
            return {"__nd__": len(buffers) - 1, "dtype": dtype, "shape": list(array.shape)}
        if kind is list:
            return [walk(x, depth + 1) for x in item]
        if kind is tuple:
            return {"__tuple__": [walk(x, depth + 1) for x in item]}
        if kind is dict:
            if not all(type(k) is str for k in item):
                raise WireError("dict keys must be strings")
            return {"__dict__": {k: walk(v, depth + 1) for k, v in item.items()}}
        if isinstance(item, np.generic) and kind.__module__ == "numpy":
            return walk(item.item(), depth)
        if kind is np.random.Generator:
            return {"__rng__": item.bit_generator.state}
        if callable(item) and getattr(item, "__module__", "").split(".")[0] == "course":
            return {"__fn__": f"{item.__module__}:{item.__qualname__}"}
        raise WireError(f"{kind.__name__} is not plain data")

    tree = walk(value, 0)
    header = json.dumps([tree, [len(b) for b in buffers]], allow_nan=False).encode()
    body = b"".join(buffers)
    return _HEADER.pack(len(header), len(body)) + header + body


def decode(data: bytes, resolve_function=None):
    """Decode a message; resolve_function(name) turns a {"__fn__": ...} into a callable (or raises)."""
    try:
        header_length, body_length = _HEADER.unpack_from(data, 0)
        at = _HEADER.size + header_length
        header = json.loads(data[_HEADER.size:at])
    except (struct.error, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise WireError(f"bad message header: {error}") from None
    if type(header) is not list or len(header) != 2 or type(header[1]) is not list \
            or not all(type(n) is int and n >= 0 for n in header[1]):
        raise WireError("bad message header")
    tree, lengths = header
    if len(data) - at != body_length or sum(lengths) != body_length:
        raise WireError("message length does not match its header")
    body = memoryview(data)[at:]
    offsets = [0]
    for n in lengths:
        offsets.append(offsets[-1] + n)

    def array(item):
        index, dtype, shape = item.get("__nd__"), item.get("dtype"), item.get("shape")
        if type(index) is not int or not 0 <= index < len(lengths) or dtype not in _DTYPES \
                or type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape):
            raise WireError("bad array description")
        count = 1
        for s in shape:
            count *= s
        if count * _NATIVE[dtype].itemsize != lengths[index]:
            raise WireError("array size does not match its data")
        raw = body[offsets[index]:offsets[index + 1]]
        return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(_NATIVE[dtype])  # a writable copy

    def walk(item, depth):
        if depth > MAX_DEPTH:
            raise WireError("nested too deep")
        kind = type(item)
        if kind in _SCALARS:
            return item
        if kind is list:
            return [walk(x, depth + 1) for x in item]
        if kind is not dict:
            raise WireError("unexpected structure")
        if len(item) == 3:
            return array(item)
        if len(item) != 1:
            raise WireError("unexpected structure")
        ((key, inner),) = item.items()
        if key == "__dict__":
            if type(inner) is not dict:
                raise WireError("bad dict")
            return {k: walk(v, depth + 1) for k, v in inner.items()}
        if key == "__tuple__":
            return tuple(walk(x, depth + 1) for x in _list(inner))
        if key == "__float__":
            if type(inner) is not str or inner not in _NON_FINITE:
                raise WireError("bad float")
            return _NON_FINITE[inner]
        if key == "__nd__":
            raise WireError("bad array description")
        if key == "__rng__":
            generator = np.random.Generator(np.random.PCG64())
            try:
                generator.bit_generator.state = inner
            except (TypeError, ValueError, KeyError) as error:
                raise WireError(f"bad generator state: {error}") from None
            return generator
        if key == "__fn__":
            if resolve_function is None or type(inner) is not str:
                raise WireError("functions are not accepted here")
            return resolve_function(inner)
        raise WireError("unexpected structure")

    return walk(tree, 0)


def _list(value):
    if type(value) is not list:
        raise WireError("bad tuple")
    return value


# --- framing on a stream socket ---------------------------------------------------------------------------------

def send(sock, value) -> None:
    send_encoded(sock, encode(value))


def send_encoded(sock, payload: bytes) -> None:
    """Send what encode() made (a caller that measured the encoded size sends it without encoding it again)."""
    sock.sendall(struct.pack("<Q", len(payload)) + payload)


def receive(sock, resolve_function=None, limit: int = MAX_MESSAGE_BYTES, tree_limit: int | None = None):
    """One message, or EOFError when the peer has closed (or died).

    tree_limit: the most bytes of JSON the message may have (its arrays aside), checked before anything of it is
    read: decoding JSON makes Python objects dozens of times its size, where an array costs its bytes.
    The first read takes up to FIRST_READ_BYTES, so that a small message (most are) costs one system call; the
    peer sends nothing more until it has an answer, so a read that returns more than one message means a peer
    that does not follow the protocol: WireError.
    """
    data = _chunk(sock, FIRST_READ_BYTES)
    if len(data) < 8:
        data += _exactly(sock, 8 - len(data))
    (length,) = struct.unpack_from("<Q", data)
    if length > limit:
        raise WireError(f"message of {length} bytes is over the limit of {limit}")
    if len(data) > 8 + length:
        raise WireError("more data than one message")
    if tree_limit is not None and length >= _HEADER.size:
        if len(data) < 8 + _HEADER.size:
            data += _exactly(sock, 8 + _HEADER.size - len(data))
        tree_length, _ = _HEADER.unpack_from(data, 8)
        if tree_length > tree_limit:
            raise WireError(f"message with {tree_length} bytes of values outside arrays is over the limit of "
                            f"{tree_limit} (return large data as numpy arrays)")
    if len(data) < 8 + length:
        data += _exactly(sock, 8 + length - len(data))
    return decode(data[8:], resolve_function)


FIRST_READ_BYTES = 64 * 1024


def _chunk(sock, most: int) -> bytes:
    chunk = sock.recv(most)
    if not chunk:
        raise EOFError("the other side closed the connection")
    return chunk


def _exactly(sock, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
