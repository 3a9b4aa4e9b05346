# SPDX-License-Identifier: GPL-2.0-or-later
"""Backend files for NVDIMMs: sparse, patterned, and their digests."""

import hashlib
import os

# What each namespace index block of a label area starts with
INDEX_SIGNATURE = b"NAMESPACE_INDEX\0"


def sparse_file(path, size):
    """Create (or keep) a sparse file of SIZE bytes: it costs no disk."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path) or os.path.getsize(path) != size:
        with open(path, "wb") as f:
            f.truncate(size)
    return path


def blank_sparse_file(path, size):
    """A sparse file of zeroes, whatever a previous run left at PATH."""
    if os.path.exists(path):
        os.unlink(path)
    return sparse_file(path, size)


def patterned_file(path, size, blank_tail=0):
    """A sparse file with a few random blocks, so changes would show.

    BLANK_TAIL bytes at the end stay zero: a label area there must be
    blank, or QEMU refuses to turn the guest's data into labels.
    """
    sparse_file(path, size)
    with open(path, "r+b") as f:
        for offset in (0, size // 2, size - blank_tail - 4096):
            f.seek(offset)
            f.write(os.urandom(4096))
    return path


def file_range(path, start, length):
    """LENGTH bytes of PATH from START (negative: from the end)."""
    with open(path, "rb") as f:
        f.seek(start, os.SEEK_SET if start >= 0 else os.SEEK_END)
        return f.read(length)


def label_area_signature(path, label_size):
    """The first bytes of a label area at the end of PATH: INDEX_SIGNATURE
    once labels were written there."""
    return file_range(path, -label_size, len(INDEX_SIGNATURE))


def sha256(path):
    """The file's sha256, read in chunks (backend files are large)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def pattern_bytes(seed, size):
    """SIZE bytes of a recognisable, non-zero, seed-dependent pattern."""
    block = b"".join(hashlib.sha256(b"%s:%d" % (seed.encode(), i)).digest()
                     for i in range(4096))           # 128 KiB
    whole, rest = divmod(size, len(block))
    return block * whole + block[:rest]


def write_pattern_file(path, size, seed):
    """A file full of pattern_bytes(SEED, SIZE): the same for every run."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(pattern_bytes(seed, size))
