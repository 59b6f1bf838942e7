#!/usr/bin/python3
"""Writes the parity corpus: the Debian `fortunes` text files (not .dat indexes, not .u8 symlinks, not off/),
in name order, concatenated as UTF-8, cut to the first N characters. Usage: make_text.py OUT [N] [DIR]."""
import os
import sys

out = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
root = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/games/fortunes"
parts, used = [], []
for name in sorted(os.listdir(root)):
    path = os.path.join(root, name)
    if name.endswith((".dat", ".u8")) or os.path.islink(path) or not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        data = f.read()
    try:
        parts.append(data.decode("utf-8"))
        used.append(name)
    except UnicodeDecodeError:
        sys.stderr.write(f"skipping {name}: not UTF-8\n")
text = "".join(parts)
total = len(text)
text = text[:limit] if limit > 0 else text
with open(out, "w", encoding="utf-8", newline="") as f:
    f.write(text)
sys.stderr.write(f"{len(used)} files, {total} characters in all, wrote the first {len(text)} to {out}\n")
