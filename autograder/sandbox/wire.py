"""Plain data on the wire: a codec that cannot execute anything, and length-prefixed messages on a socket.

A message is a JSON header describing a tree of plain values, followed by the raw bytes of its numpy arrays.
Arrays become {"__nd__": index, "dtype": "<f8", "shape": [...]}; course functions {"__fn__": "course.mod:name"};
numpy Generators {"__rng__": bit generator state}. Decoding checks every dtype, shape and length, so a hostile
peer can send wrong data but never an object with behaviour of its own. No pickle anywhere.
"""

from __future__ import annotations

import json
import struct

import numpy as np

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 20
_DTYPES = {"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"}
_HEADER = struct.Struct("<QQ")  # JSON length, total array bytes


class WireError(ValueError):
    """Malformed or oversized data from the other side."""


def encode(value) -> bytes:
    buffers: list[bytes] = []

    def walk(item, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("nested too deep")
        kind = type(item)
        if item is None or kind in (bool, int, float, str):
            if kind is float and item != item:  # NaN and infinities do not survive JSON as numbers
                return {"__float__": "nan"}
            if kind is float and item in (float("inf"), float("-inf")):
                return {"__float__": "inf" if item > 0 else "-inf"}
            return item
        if isinstance(item, np.generic) and kind.__module__ == "numpy":
            return walk(item.item(), depth)
        if kind is np.ndarray:
            array = np.ascontiguousarray(item)
            if array.dtype.byteorder == ">":
                array = array.astype(array.dtype.newbyteorder("<"))
            dtype = array.dtype.str
            if dtype not in _DTYPES:
                raise WireError(f"arrays of dtype {array.dtype} are not plain data")
            buffers.append(array.tobytes())
            return {"__nd__": len(buffers) - 1, "dtype": dtype, "shape": list(array.shape)}
        if kind in (list, tuple):
            items = [walk(x, depth + 1) for x in item]
            return items if kind is list else {"__tuple__": items}
        if kind is dict:
            if not all(type(k) is str for k in item):
                raise WireError("dict keys must be strings")
            return {"__dict__": {k: walk(v, depth + 1) for k, v in item.items()}}
        if kind is np.random.Generator:
            return {"__rng__": item.bit_generator.state}
        if callable(item) and getattr(item, "__module__", "").split(".")[0] == "course":
            return {"__fn__": f"{item.__module__}:{item.__qualname__}"}
        raise WireError(f"{kind.__name__} is not plain data")

    tree = json.dumps(walk(value), allow_nan=False).encode()
    body = b"".join(buffers)
    lengths = json.dumps([len(b) for b in buffers]).encode()
    return _HEADER.pack(len(tree), len(body)) + struct.pack("<Q", len(lengths)) + lengths + tree + body


def decode(data: bytes, resolve_function=None):
    """Decode a message; resolve_function(name) turns a {"__fn__": ...} into a callable (or raises)."""
    try:
        tree_length, body_length = _HEADER.unpack_from(data, 0)
        (lengths_length,) = struct.unpack_from("<Q", data, _HEADER.size)
        at = _HEADER.size + 8
        lengths = json.loads(data[at:at + lengths_length])
        at += lengths_length
        tree = json.loads(data[at:at + tree_length])
        at += tree_length
    except (struct.error, ValueError) as error:
        raise WireError(f"bad message header: {error}") from None
    if len(data) - at != body_length or sum(lengths) != body_length or any(n < 0 for n in lengths):
        raise WireError("message length does not match its header")
    offsets = [at]
    for n in lengths:
        offsets.append(offsets[-1] + n)

    def walk(item, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("nested too deep")
        if item is None or type(item) in (bool, int, float, str):
            return item
        if type(item) is list:
            return [walk(x, depth + 1) for x in item]
        if type(item) is not dict or len(item) not in (1, 3):
            raise WireError("unexpected structure")
        if "__nd__" in item:
            index, dtype, shape = item["__nd__"], item.get("dtype"), item.get("shape")
            if type(index) is not int or not 0 <= index < len(lengths) or dtype not in _DTYPES \
                    or type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape):
                raise WireError("bad array description")
            count = 1
            for s in shape:
                count *= s
            if count * np.dtype(dtype).itemsize != lengths[index]:
                raise WireError("array size does not match its data")
            raw = data[offsets[index]:offsets[index + 1]]
            return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.dtype(dtype).newbyteorder("="))
        if "__tuple__" in item:
            return tuple(walk(x, depth + 1) for x in _list(item["__tuple__"]))
        if "__dict__" in item:
            inner = item["__dict__"]
            if type(inner) is not dict:
                raise WireError("bad dict")
            return {str(k): walk(v, depth + 1) for k, v in inner.items()}
        if "__float__" in item:
            return {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}[item["__float__"]]
        if "__rng__" in item:
            generator = np.random.Generator(np.random.PCG64())
            try:
                generator.bit_generator.state = item["__rng__"]
            except (TypeError, ValueError, KeyError) as error:
                raise WireError(f"bad generator state: {error}") from None
            return generator
        if "__fn__" in item:
            if resolve_function is None:
                raise WireError("functions are not accepted here")
            return resolve_function(item["__fn__"])
        raise WireError("unexpected structure")

    return walk(tree)


def _list(value):
    if type(value) is not list:
        raise WireError("bad tuple")
    return value


# --- framing on a stream socket ---------------------------------------------------------------------------------

def send(sock, value) -> None:
    payload = encode(value)
    sock.sendall(struct.pack("<Q", len(payload)) + payload)


def receive(sock, resolve_function=None, limit: int = MAX_MESSAGE_BYTES):
    """One message, or EOFError when the peer has closed (or died)."""
    (length,) = struct.unpack("<Q", _exactly(sock, 8))
    if length > limit:
        raise WireError(f"message of {length} bytes is over the limit of {limit}")
    return decode(_exactly(sock, length), resolve_function)


def _exactly(sock, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
