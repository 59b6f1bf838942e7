"""Minimal safetensors writer and strict reader (struct + json + numpy only).

Format (https://github.com/huggingface/safetensors, "Format" section):

    [8 bytes]  N, unsigned 64-bit little-endian: length of the header
    [N bytes]  UTF-8 JSON object:
                 {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
                  ...,
                  "__metadata__": {"<key>": "<string value>", ...}}
               padded with trailing spaces so that 8 + N is a multiple of 8
    [rest]     the tensors' raw little-endian row-major bytes; data_offsets are relative to
               the first byte after the header

This writer lays the tensors out contiguously, without gaps, ordered by element size
(8-byte types first, then 4, 2, 1; the caller's order within one size), so that every tensor
starts at an offset that is a multiple of its element size. The reader checks all of that.
"""

from __future__ import annotations

import json
import struct
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

# safetensors dtype name -> little-endian numpy dtype
DTYPES: Dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
}

_NUMPY_TO_NAME = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}

METADATA_KEY = "__metadata__"


def dtype_name(array: np.ndarray) -> str:
    """The safetensors dtype name of a numpy array (F32, F64, I64, ...)."""
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _NUMPY_TO_NAME:
        raise TypeError(f"no safetensors dtype for numpy dtype {array.dtype}")
    return _NUMPY_TO_NAME[key]


def write(path: str, tensors: Sequence[Tuple[str, np.ndarray]],
          metadata: Mapping[str, str] | None = None) -> None:
    """Write tensors (name, array) and string metadata to a safetensors file."""
    names = [name for name, _ in tensors]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate tensor names in {names}")
    if METADATA_KEY in names:
        raise ValueError(f"{METADATA_KEY} is reserved")

    # Largest element first (stable), so each tensor is aligned to its element size.
    ordered = sorted(enumerate(tensors), key=lambda item: (-item[1][1].dtype.itemsize, item[0]))

    header: Dict[str, object] = {}
    blobs: List[bytes] = []
    offset = 0
    for _, (name, array) in ordered:
        name_of_dtype = dtype_name(array)
        data = np.ascontiguousarray(array, dtype=DTYPES[name_of_dtype]).tobytes(order="C")
        header[name] = {
            "dtype": name_of_dtype,
            "shape": [int(d) for d in array.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)

    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata must map str to str, got {key!r}: {value!r}")
        header[METADATA_KEY] = dict(metadata)

    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * ((-(8 + len(header_bytes))) % 8)

    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for data in blobs:
            f.write(data)


class SafetensorsFile:
    """A parsed file: tensors (in file order), their header entries and the metadata."""

    def __init__(self, tensors: Dict[str, np.ndarray], entries: Dict[str, dict],
                 metadata: Dict[str, str], header_length: int):
        self.tensors = tensors
        self.entries = entries
        self.metadata = metadata
        self.header_length = header_length

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def names(self) -> List[str]:
        return list(self.tensors)


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in safetensors header")
        result[key] = value
    return result


def read(path: str) -> SafetensorsFile:
    """Read a safetensors file, checking every rule the writer keeps.

    Raises ValueError on any violation: header length beyond the file, header not UTF-8 JSON,
    unknown dtype, bad shape, offsets that overlap, leave gaps, do not cover the data exactly,
    or do not match shape x element size, misaligned tensors, non-string metadata.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_length,) = struct.unpack_from("<Q", raw, 0)
    if header_length > len(raw) - 8:
        raise ValueError(f"{path}: header length {header_length} exceeds file size {len(raw)}")
    if (8 + header_length) % 8 != 0:
        raise ValueError(f"{path}: data section does not start 8-byte aligned")
    header_bytes = raw[8:8 + header_length]
    text = header_bytes.decode("utf-8")
    stripped = text.rstrip(" ")
    if not stripped.startswith("{") or not stripped.endswith("}"):
        raise ValueError(f"{path}: header is not a JSON object padded with spaces")
    header = json.loads(stripped, object_pairs_hook=_no_duplicates)

    metadata = header.pop(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError(f"{path}: __metadata__ must map strings to strings")

    data = raw[8 + header_length:]
    spans = []
    for name, entry in header.items():
        if set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{path}: {name}: unexpected header fields {sorted(entry)}")
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{path}: {name}: unknown dtype {entry['dtype']}")
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"{path}: {name}: bad shape {shape}")
        begin, end = entry["data_offsets"]
        itemsize = DTYPES[entry["dtype"]].itemsize
        if end - begin != int(np.prod(shape, dtype=np.int64)) * itemsize:
            raise ValueError(f"{path}: {name}: offsets {begin}..{end} do not match shape {shape}")
        if begin % itemsize != 0:
            raise ValueError(f"{path}: {name}: offset {begin} not aligned to {itemsize}")
        spans.append((begin, end, name))

    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise ValueError(f"{path}: {name}: starts at {begin}, expected {position} (gap/overlap)")
        position = end
    if position != len(data):
        raise ValueError(f"{path}: tensors cover {position} bytes, data section has {len(data)}")

    tensors: Dict[str, np.ndarray] = {}
    entries: Dict[str, dict] = {}
    for begin, end, name in spans:
        entry = header[name]
        array = np.frombuffer(data, dtype=DTYPES[entry["dtype"]], count=(end - begin) //
                              DTYPES[entry["dtype"]].itemsize, offset=begin)
        tensors[name] = array.reshape(entry["shape"]).copy()
        entries[name] = entry
    return SafetensorsFile(tensors, entries, metadata, header_length)
