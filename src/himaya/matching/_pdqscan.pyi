"""Types for the C kernel in _pdqscan.c (exact Hamming range search over 256-bit codes)."""

import numpy as np
import numpy.typing as npt

def range_search(
    codes: npt.NDArray[np.uint8] | bytes,
    queries: npt.NDArray[np.uint8] | bytes,
    max_distance: int,
    start: int,
    end: int,
    q_start: int,
    q_end: int,
    kernel: str = "auto",
) -> tuple[bytes, bytes, bytes]:
    """Pairs within max_distance (inclusive): query rows (int32), rows (int64), distances (uint16)."""

def kernels() -> list[str]:
    """Kernels this CPU can run, fastest first: "avx512", "popcnt", "generic"."""
