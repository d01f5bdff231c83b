"""Compiled (numba) steps of the Louvain method on a graph held as CSR arrays.

``taste_clusters.louvain`` drives them: it keeps the random order of each pass (Python's
``random``, as before) and these do the work per node. On SPEC's catalogue (75,900 artists,
1.1M edges) the plain-Python loops took most of a minute of every rebuild's loading stage. The
arithmetic is that of the Python implementation step by step (float64 sums in the same order, a
neighbouring community considered in the order it was first met, the same tie margin), so the
communities are the very same; tests/oracle/louvain.py keeps the Python one to check it.

A row's entries are in the order its neighbours were inserted, and a node may have a self-loop
(a community merged into one node keeps its inner weight on itself).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: a move must gain more than this (float noise never moves a node back and forth)
TIE_MARGIN = 1e-12


@njit(cache=True)
def degrees(indptr: IntArray, indices: IntArray, weights: FloatArray) -> FloatArray:
    """Each node's weighted degree, a self-loop counted twice."""
    n = indptr.shape[0] - 1
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        total = 0.0
        own = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            if indices[e] != i:
                total += weights[e]
            else:
                own = weights[e]
        out[i] = total + 2 * own
    return out


@njit(cache=True)
def total_weight(degree: FloatArray) -> float:
    """The sum of the degrees, added up in node order."""
    total = 0.0
    for value in degree:
        total += value
    return total


@njit(cache=True)
def local_pass(  # noqa: PLR0917 - numba takes its arrays positionally
    order: IntArray,
    indptr: IntArray,
    indices: IntArray,
    weights: FloatArray,
    degree: FloatArray,
    two_m: float,
    resolution: float,
    community: IntArray,
    total: FloatArray,
) -> bool:
    """One pass of local moving in ``order``: each node joins the neighbouring community with
    the best modularity gain. Updates ``community`` and ``total``; returns whether any moved."""
    n = indptr.shape[0] - 1
    link = np.zeros(n, dtype=np.float64)
    met = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    moved = False
    for i in order:
        k_i = degree[i]
        count = 0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if j == i:
                continue
            c = community[j]
            if met[c]:
                link[c] += weights[e]
            else:
                met[c] = True
                link[c] = 0.0 + weights[e]
                touched[count] = c
                count += 1
        current = community[i]
        total[current] -= k_i
        scale = resolution * k_i / two_m
        best = current
        best_gain = (link[current] if met[current] else 0.0) - total[current] * scale
        for t in range(count):
            c = touched[t]
            gain = link[c] - total[c] * scale
            if gain > best_gain + TIE_MARGIN:
                best = c
                best_gain = gain
        total[best] += k_i
        if best != current:
            community[i] = best
            moved = True
        for t in range(count):
            met[touched[t]] = False
    return moved


@njit(cache=True)
def aggregate(
    indptr: IntArray, indices: IntArray, weights: FloatArray, community: IntArray
) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """The graph of communities: each community one node (numbered in order of first
    appearance), the weights between two of them summed, those inside one on its self-loop.
    Returns (each old node's new node, indptr, indices, weights)."""
    n = indptr.shape[0] - 1
    label = np.full(n, -1, dtype=np.int64)
    nodes = 0
    for i in range(n):
        c = community[i]
        if label[c] < 0:
            label[c] = nodes
            nodes += 1
    new_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        new_of[i] = label[community[i]]
    # Every edge once (j >= i), in row order: inside a community onto its self-loop, between
    # two onto both of their rows. Emitted in this order, then grouped by row stably.
    emitted = 0
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            if indices[e] >= i:
                emitted += 1 if new_of[i] == new_of[indices[e]] else 2
    rows = np.empty(emitted, dtype=np.int64)
    cols = np.empty(emitted, dtype=np.int64)
    vals = np.empty(emitted, dtype=np.float64)
    k = 0
    for i in range(n):
        a = new_of[i]
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if j < i:
                continue
            b = new_of[j]
            rows[k], cols[k], vals[k] = a, b, weights[e]
            k += 1
            if a != b:
                rows[k], cols[k], vals[k] = b, a, weights[e]
                k += 1
    start = np.zeros(nodes + 1, dtype=np.int64)
    for r in rows:
        start[r + 1] += 1
    for r in range(nodes):
        start[r + 1] += start[r]
    fill = start[:-1].copy()
    grouped = np.empty(emitted, dtype=np.int64)
    for x in range(emitted):
        grouped[fill[rows[x]]] = x
        fill[rows[x]] += 1
    out_ptr = np.zeros(nodes + 1, dtype=np.int64)
    out_idx = np.empty(emitted, dtype=np.int64)
    out_w = np.empty(emitted, dtype=np.float64)
    slot = np.full(nodes, -1, dtype=np.int64)
    size = 0
    for r in range(nodes):
        first = size
        for x in grouped[start[r] : start[r + 1]]:
            col = cols[x]
            if slot[col] < 0:
                slot[col] = size
                out_idx[size] = col
                out_w[size] = 0.0 + vals[x]
                size += 1
            else:
                out_w[slot[col]] += vals[x]
        for s in range(first, size):
            slot[out_idx[s]] = -1
        out_ptr[r + 1] = size
    return new_of, out_ptr, out_idx[:size].copy(), out_w[:size].copy()
