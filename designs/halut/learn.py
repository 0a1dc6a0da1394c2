"""Learning a halut layer (MADDNESS, Blalock & Guttag 2021) for the RTL's number formats.

Given a layer's training inputs ``A`` (N x D) and its weights ``B`` (D x M), ``learn`` returns a
``LearnedLayer``: what ``halut_matmul`` holds (fp16 thresholds, INT8 or FP16 LUTs) plus the
host-side pieces around it (which input column each tree level compares, and how to turn the
RTL's 32-bit results back into real numbers).

Encoder (hash) learning, per codebook c over its own block of about D/C input columns:

* a balanced binary tree of depth L = log2(K), learned level by level. All nodes of one level
  compare the *same* input column (the paper's design, and the RTL's: the encoder gets one x
  value per level, so the host can supply it without knowing the path); every node has its own
  threshold. The level's column is the one, among the codebook's columns, whose best per-node
  splits minimise the summed within-bucket squared error (SSE of the rows' codebook sub-vectors
  around their bucket means); each node's threshold is its bucket's best split on that column.
  The paper narrows the candidate columns with a heuristic; the blocks here are small, so every
  column of the block is tried.
* Learning happens on fp16-rounded inputs (what the hardware compares), and every threshold is
  an fp16 value t with ``left <= t < right`` for the two neighbouring training values, so the
  RTL's ``x > t`` reproduces the learned partition of the training set exactly.
* A bucket that cannot be split (fewer than two distinct values on the level's column) gets the
  threshold +Inf: every row goes left (NaN too, as in the RTL), the right leaf stays empty.

Prototypes: the mean of each bucket's sub-vectors (zero outside the codebook's block), then
optionally refined by ridge regression over all D columns, P = argmin ||A - G P||^2 + r ||P||^2
with G the N x CK one-hot leaf matrix (the paper's prototype optimisation). LUT[m, c, k] =
P[c, k] . B[:, m].

Quantisation, matching ``golden.decode`` (and so the RTL) exactly:

* ``int8``: one scale s per layer and one offset per codebook, q = round((LUT - lo_c) / s) - 128
  in [-128, 127], with s = (largest per-codebook LUT range) / 255. The RTL sums the C words in a
  wrapping INT32 (|sum| <= 128 C never wraps); the host computes ``scale * acc + offset`` with the
  per-layer offset = sum_c (lo_c + 128 s).
* ``fp16``: the LUT values rounded to fp16, summed by the RTL in fp32; scale 1, offset 0.

The split-column gather (``LearnedLayer.gather``) is the host side of the encoder's input: for row
n it sends x[n, c, l] = A[n, split_dims[c, l]] in fp16, which ``golden.encoder_stream`` turns into
the encoder's diagonal lane schedule. The RTL templates stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import golden
from .params import clog2, validate_params

FP16_POS_INF = np.uint16(0x7C00)
DTYPES = ("int8", "fp16")


# ---------------------------------------------------------------- best split of one bucket


@dataclass(frozen=True)
class Split:
    """The best split of one bucket on one column: ``x > threshold`` goes right."""

    loss: float  # SSE of the two halves (the bucket's SSE when it cannot be split)
    threshold: np.float16  # fp16; +Inf when the bucket cannot be split
    n_left: int


def sse(rows: np.ndarray) -> float:
    """Sum of squared distances of ``rows`` (n x d) from their mean (0 for n = 0)."""
    if rows.shape[0] == 0:
        return 0.0
    return float(((rows - rows.mean(axis=0)) ** 2).sum())


def _fp16_between(left: float, right: float) -> np.float16:
    """An fp16 value t with left <= t < right (both fp16, left < right), near their midpoint."""
    t = np.float16((left + right) / 2.0)
    if not (left <= float(t) < right):
        t = np.float16(left)
    return t


def best_split(rows: np.ndarray, column: np.ndarray) -> Split:
    """The threshold on ``column`` (n,) that minimises the summed SSE of ``rows`` (n x d) in the
    two halves ``column <= t`` and ``column > t``. One sort and prefix sums: O(n log n + n d)."""
    n = rows.shape[0]
    order = np.argsort(column, kind="stable")
    values = column[order]
    if n < 2 or values[0] == values[-1]:
        return Split(sse(rows), FP16_POS_INF.view(np.float16), n)
    sorted_rows = rows[order]
    prefix = np.cumsum(sorted_rows, axis=0)  # (n, d): sums of the first i + 1 rows
    prefix_sq = np.cumsum((sorted_rows**2).sum(axis=1))
    left_n = np.arange(1, n, dtype=np.float64)  # left sizes 1 .. n-1
    right_n = n - left_n
    left_sum, total = prefix[:-1], prefix[-1]
    left_sse = prefix_sq[:-1] - (left_sum**2).sum(axis=1) / left_n
    right_sse = (prefix_sq[-1] - prefix_sq[:-1]) - ((total - left_sum) ** 2).sum(axis=1) / right_n
    loss = left_sse + right_sse
    loss[values[:-1] == values[1:]] = np.inf  # a threshold must separate distinct values
    i = int(np.argmin(loss))
    return Split(float(max(loss[i], 0.0)), _fp16_between(float(values[i]), float(values[i + 1])), i + 1)


# ---------------------------------------------------------------- one codebook's tree


@dataclass(frozen=True)
class Tree:
    split_dims: np.ndarray  # (L,) column index (into A) compared at each level
    thresholds: np.ndarray  # (K - 1,) fp16 in heap order
    leaves: np.ndarray  # (N,) leaf of every training row


def learn_tree(sub: np.ndarray, columns: np.ndarray, levels: int) -> Tree:
    """Greedy level-by-level tree over ``sub`` (N x d, the codebook's fp16-valued sub-vectors);
    ``columns`` (d,) maps sub's columns to A's. Ties between columns go to the lowest index."""
    n_rows, n_dims = sub.shape
    buckets = [np.arange(n_rows)]  # bucket b of the current level holds node 2^l - 1 + b
    thresholds = np.zeros((1 << levels) - 1, dtype=np.float16)
    split_dims = np.zeros(levels, dtype=np.int64)
    for level in range(levels):
        best: tuple[float, int, list[Split]] | None = None
        for j in range(n_dims):
            splits = [best_split(sub[b], sub[b, j]) for b in buckets]
            total = sum(s.loss for s in splits)
            if best is None or total < best[0]:
                best = (total, j, splits)
        _, j, splits = best
        split_dims[level] = columns[j]
        children = []
        for b, (rows, split) in enumerate(zip(buckets, splits, strict=True)):
            thresholds[(1 << level) - 1 + b] = split.threshold
            right = sub[rows, j] > split.threshold
            children += [rows[~right], rows[right]]
        buckets = children
    leaves = np.zeros(n_rows, dtype=np.int64)
    for k, rows in enumerate(buckets):
        leaves[rows] = k
    return Tree(split_dims, thresholds, leaves)


# ---------------------------------------------------------------- the layer


@dataclass(frozen=True)
class LearnedLayer:
    """A learned halut layer in the RTL's formats (array layouts as ``golden`` takes them)."""

    C: int
    K: int
    dtype: str
    split_dims: np.ndarray  # (C, L) int: input column compared at tree level l of codebook c
    thresholds: np.ndarray  # (C, K - 1) uint16 fp16 bit patterns, heap order
    lut: np.ndarray  # (M, C, K): int8 values, or uint16 fp16 bit patterns
    lut_real: np.ndarray  # (M, C, K) float64 LUT before quantisation
    scale: float  # real result = scale * RTL result + offset
    offset: float

    @property
    def M(self) -> int:
        return int(self.lut.shape[0])

    def gather(self, A) -> np.ndarray:
        """Host-side gather: (N, C, L) fp16 bit patterns, x[n, c, l] = A[n, split_dims[c, l]]."""
        A = np.asarray(A)
        return golden.as_fp16_bits(np.asarray(A, dtype=np.float16)[:, self.split_dims])

    def encode(self, A) -> np.ndarray:
        """Leaf per (row, codebook), as the RTL's encoder computes it."""
        return golden.encode(self.gather(A), self.thresholds)

    def raw(self, A) -> np.ndarray:
        """(N, M) uint32 result bit patterns, bit-identical to the RTL's result_o."""
        return golden.matmul(self.gather(A), self.thresholds, self.lut, self.dtype)

    def dequantize(self, result_bits) -> np.ndarray:
        """RTL result bit patterns -> the approximation of A . B (float64)."""
        values = golden.result_values(result_bits, self.dtype).astype(np.float64)
        return self.scale * values + self.offset

    def __call__(self, A) -> np.ndarray:
        """The approximate product A . B the hardware computes (float64, N x M)."""
        return self.dequantize(self.raw(A))

    def rtl_params(self, **extra) -> dict:
        """halut_matmul parameters holding this layer (M = the layer's output count)."""
        return validate_params("halut_matmul", {"C": self.C, "K": self.K, "M": self.M, "dtype": self.dtype, **extra})


def codebook_columns(D: int, C: int) -> list[np.ndarray]:
    """The input columns of each codebook: C contiguous blocks of D/C (sizes differ by at most 1)."""
    if not 1 <= C <= D:
        raise ValueError(f"C={C} codebooks need 1 <= C <= D={D} input columns")
    return np.array_split(np.arange(D), C)


def learn(A, B, C: int, K: int, dtype: str = "int8", ridge: float | None = 1.0) -> LearnedLayer:
    """Learn the halut approximation of ``A . B`` from training rows ``A`` (N x D), ``B`` (D x M).

    ``ridge``: regularisation of the prototype refinement (None: bucket means only).
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"A {A.shape} and B {B.shape} do not form a product A . B")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError("A and B must be finite")
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: must be one of {', '.join(DTYPES)}")
    if K < 2 or K & (K - 1):
        raise ValueError(f"K={K}: must be a power of two >= 2")
    if ridge is not None and ridge < 0:
        raise ValueError(f"ridge={ridge}: must be >= 0 or None")
    n_rows, D = A.shape
    levels = clog2(K)
    with np.errstate(over="ignore"):  # reported below
        A16 = A.astype(np.float16)
    if not np.all(np.isfinite(A16)):
        raise ValueError("A does not fit fp16 (|value| > 65504)")
    A16 = A16.astype(np.float64)  # the values the encoder compares

    split_dims = np.zeros((C, levels), dtype=np.int64)
    thresholds = np.zeros((C, K - 1), dtype=np.float16)
    leaves = np.zeros((n_rows, C), dtype=np.int64)
    prototypes = np.zeros((C, K, D))
    for c, columns in enumerate(codebook_columns(D, C)):
        tree = learn_tree(A16[:, columns], columns, levels)
        split_dims[c], thresholds[c], leaves[:, c] = tree.split_dims, tree.thresholds, tree.leaves
        for k in range(K):
            rows = tree.leaves == k
            if rows.any():
                prototypes[c, k, columns] = A[rows][:, columns].mean(axis=0)
    if ridge is not None:
        prototypes = refine_prototypes(A, leaves, K, ridge)
    lut_real = np.einsum("ckd,dm->mck", prototypes, B)
    lut, scale, offset = quantize_lut(lut_real, dtype)
    return LearnedLayer(C, K, dtype, split_dims, golden.as_fp16_bits(thresholds), lut, lut_real, scale, offset)


def one_hot(leaves: np.ndarray, K: int) -> np.ndarray:
    """(N, C) leaves -> (N, C*K) one-hot matrix G (column c*K + k)."""
    n_rows, n_cb = leaves.shape
    G = np.zeros((n_rows, n_cb * K))
    G[np.arange(n_rows)[:, None], np.arange(n_cb)[None, :] * K + leaves] = 1.0
    return G


def refine_prototypes(A: np.ndarray, leaves: np.ndarray, K: int, ridge: float) -> np.ndarray:
    """Ridge-regression prototypes (C, K, D): argmin_P ||A - G P||^2 + ridge ||P||^2."""
    G = one_hot(leaves, K)
    gram = G.T @ G + ridge * np.eye(G.shape[1])
    P = np.linalg.lstsq(gram, G.T @ A, rcond=None)[0]  # lstsq: singular when ridge = 0 and a leaf is empty
    return P.reshape(leaves.shape[1], K, A.shape[1])


def quantize_lut(lut_real: np.ndarray, dtype: str) -> tuple[np.ndarray, float, float]:
    """(M, C, K) real LUT -> (RTL words, scale, offset) with result = scale * sum + offset."""
    if dtype == "fp16":
        with np.errstate(over="ignore"):  # reported below
            words = lut_real.astype(np.float16)
        if not np.all(np.isfinite(words)):
            raise ValueError("LUT values do not fit fp16 (|value| > 65504)")
        return golden.as_fp16_bits(words), 1.0, 0.0
    lo = lut_real.min(axis=(0, 2))  # per codebook
    span = float((lut_real.max(axis=(0, 2)) - lo).max())
    scale = span / 255.0 if span > 0 else 1.0
    q = np.rint((lut_real - lo[None, :, None]) / scale) - 128.0
    words = np.clip(q, -128, 127).astype(np.int8)
    offset = float((lo + 128.0 * scale).sum())
    return words, scale, offset


def relative_error(approx, exact) -> float:
    """||approx - exact||_F / ||exact||_F."""
    exact = np.asarray(exact, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(approx, dtype=np.float64) - exact) / np.linalg.norm(exact))
