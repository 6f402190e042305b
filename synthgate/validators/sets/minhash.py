"""MinHash LSH for the near-duplicate check of `sets`: text sketches and a first-seen key index.

Each text is shingled into 16-byte windows starting at each word (about 2-3 words: a one-word
edit changes only ~3 shingles) and sketched with one-permutation MinHash (64 bins, the min hash
per bin), hashed in numpy over a whole batch at once. Bands of 3 bins x 21 bands make two texts
candidates when any band matches: P = 1 - (1 - J^3)^21 is 0.94 at Jaccard J = 0.5, 0.994 at
J = 0.6 and 2e-5 at the J ~ 0.01 of unrelated texts (measured: 99.9% of ratio >= 92 pairs made
with up to 25 scattered word edits became candidates; 100k synthetic records cost 0.14 rapidfuzz
calls each). Each band key maps to the first record that had it (sorted numpy runs, merged
LSM-style: 12 bytes per key, vectorised lookups), so a record meets at most a few earlier
candidates.
"""

from __future__ import annotations

import numpy as np

_BINS, ROWS, BANDS = 64, 3, 21
EMPTY = np.uint64(2**64 - 1)
_LOW58 = np.uint64((1 << 58) - 1)
K1, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_MAX_RUN = 1 << 22  # keys in one sorted run of KeyIndex (48 MB)
_PAD = b"\n" * 16  # keeps each text's 16-byte windows from reading into the next text


class KeyIndex:
    """uint64 key -> first position, as sorted runs merged when a run outgrows the one before."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def first(self, keys: np.ndarray) -> np.ndarray:
        """Position stored for each key, -1 where absent (a key lives in exactly one run)."""
        out = np.full(len(keys), -1, np.int64)
        for run_keys, run_pos in self._runs:
            at = np.minimum(np.searchsorted(run_keys, keys), len(run_keys) - 1)
            hit = run_keys[at] == keys
            out[hit] = run_pos[at[hit]]
        return out

    def add(self, keys: np.ndarray, positions: np.ndarray) -> None:
        """Add sorted keys that are not in the index yet."""
        if not len(keys):
            return
        self._runs.append((keys, positions.astype(np.int32)))
        # A merge holds both runs and their union: runs stop growing at _MAX_RUN keys so that
        # transient stays ~100 MB however large the set (1M records: ~45M keys, ~11 runs).
        while (
            len(self._runs) > 1
            and len(self._runs[-2][0]) < 2 * len(self._runs[-1][0])
            and len(self._runs[-2][0]) + len(self._runs[-1][0]) <= _MAX_RUN
        ):
            newer = self._runs.pop()
            self._runs[-1] = _merge(self._runs[-1], newer)


def _merge(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted runs with disjoint keys in O(n) extra memory (no argsort of the union)."""
    (ka, pa), (kb, pb) = a, b
    at_b = np.searchsorted(ka, kb) + np.arange(len(kb))
    from_b = np.zeros(len(ka) + len(kb), bool)
    from_b[at_b] = True
    keys = np.empty(len(from_b), np.uint64)
    positions = np.empty(len(from_b), np.int32)
    keys[at_b], positions[at_b] = kb, pb
    keys[~from_b], positions[~from_b] = ka, pa
    return keys, positions


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads polynomial hashes over all 64 bits (uint64 wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


ROW_MULT = mix(np.arange(1, ROWS + 1, dtype=np.uint64) * K1)


def signatures(texts: list[bytes]) -> np.ndarray:
    """(len(texts), 64) one-permutation MinHash of word-anchored 16-byte windows; EMPTY = no shingle."""
    count = len(texts)
    blob = _PAD.join(texts) + _PAD
    buf = np.frombuffer(blob, np.uint8)
    # Every 8-byte window as a uint64, without copying: a byte-strided view of the buffer.
    windows = np.ndarray((len(blob) - 7,), dtype="<u8", buffer=blob, strides=(1,))
    lengths = np.fromiter(map(len, texts), np.int64, count)
    text_start = np.zeros(count, np.int64)
    np.cumsum(lengths[:-1] + len(_PAD), out=text_start[1:])
    nonempty = np.flatnonzero(lengths)
    # Normalized texts are single-spaced: a word starts at each text start and after each space.
    starts = np.concatenate((np.flatnonzero(buf == 32) + 1, text_start[nonempty]))
    spaces = np.fromiter((t.count(b" ") for t in texts), np.int64, count)
    owner = np.concatenate((np.repeat(np.arange(count), spaces), nonempty))
    shingle = mix(windows[starts] * K1 + windows[starts + 8])
    sig = np.full(count * _BINS, EMPTY)
    np.minimum.at(sig, owner * _BINS + (shingle >> np.uint64(58)).astype(np.int64), shingle & _LOW58)
    return sig.reshape(count, _BINS)
