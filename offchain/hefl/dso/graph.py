"""Undirected connected communication graphs: ring, complete, seeded Erdős–Rényi, edge-list file.

A :class:`Graph` holds N nodes 0…N−1 and a sorted tuple of edges (i, j), i < j. Agents talk only
along edges. ``metropolis_weights`` gives the conventional DSGD baseline its mixing matrix
W_ij = 1/(1 + max(d_i, d_j)) for j ∈ N(i), W_ii = 1 − Σ_{j≠i} W_ij (doubly stochastic).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hefl.errors import GraphError

#: Kinds ``--graph`` understands (besides ``file:PATH``).
GRAPH_KINDS: tuple[str, ...] = ("ring", "complete", "random")
#: Default edge probability of the seeded random graph.
DEFAULT_EDGE_PROBABILITY = 0.5
#: Draws of G(N, p) before giving up on a connected one.
MAX_RANDOM_TRIES = 10_000


@dataclass(frozen=True)
class Graph:
    """An undirected simple graph on nodes 0…n−1."""

    n: int
    edges: tuple[tuple[int, int], ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if self.n < 2:
            raise GraphError(f"a graph needs at least 2 agents, got {self.n}")
        seen = set()
        for i, j in self.edges:
            if not (0 <= i < self.n and 0 <= j < self.n):
                raise GraphError(f"edge ({i}, {j}) names an agent outside 0…{self.n - 1}")
            if i == j:
                raise GraphError(f"self-loop at agent {i}")
            if i > j or (i, j) in seen:
                raise GraphError(f"edge ({i}, {j}) is not in canonical sorted form or repeated")
            seen.add((i, j))
        if not self.is_connected():
            raise GraphError(f"graph {self.name!r} on {self.n} agents is not connected")

    @classmethod
    def from_edges(cls, n: int, edges: list[tuple[int, int]], name: str = "custom") -> Graph:
        canon = sorted({(min(i, j), max(i, j)) for i, j in edges if i != j})
        if any(i == j for i, j in edges):
            raise GraphError(f"graph {name!r} has a self-loop")
        return cls(n, tuple(canon), name)

    def neighbours(self, i: int) -> tuple[int, ...]:
        return tuple(
            sorted([b for a, b in self.edges if a == i] + [a for a, b in self.edges if b == i])
        )

    def degree(self, i: int) -> int:
        return len(self.neighbours(i))

    @property
    def max_degree(self) -> int:
        return max(self.degree(i) for i in range(self.n))

    @property
    def directed_edges(self) -> int:
        """2|E|."""
        return 2 * len(self.edges)

    def is_connected(self) -> bool:
        return _connected(self.n, self.edges)

    def metropolis_weights(self) -> np.ndarray:
        """W_ij = 1/(1 + max(d_i, d_j)) on edges, W_ii = 1 − Σ_j W_ij."""
        w = np.zeros((self.n, self.n))
        deg = [self.degree(i) for i in range(self.n)]
        for i, j in self.edges:
            w[i, j] = w[j, i] = 1.0 / (1 + max(deg[i], deg[j]))
        w[np.diag_indices(self.n)] = 1.0 - w.sum(axis=1)
        return w

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "n": self.n, "edges": [list(e) for e in self.edges]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Graph:
        edges = tuple((int(a), int(b)) for a, b in data["edges"])
        return cls(int(data["n"]), edges, str(data.get("name", "custom")))


def _connected(n: int, edges: Sequence[tuple[int, int]]) -> bool:
    """Whether every node of 0…n−1 is reachable from node 0 along ``edges`` (depth-first)."""
    adjacency: dict[int, set[int]] = {i: set() for i in range(n)}
    for i, j in edges:
        adjacency[i].add(j)
        adjacency[j].add(i)
    seen, stack = {0}, [0]
    while stack:
        for j in adjacency[stack.pop()]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return len(seen) == n


def ring(n: int) -> Graph:
    if n < 3:
        raise GraphError(f"a ring needs at least 3 agents, got {n}")
    return Graph.from_edges(n, [(i, (i + 1) % n) for i in range(n)], "ring")


def complete(n: int) -> Graph:
    return Graph.from_edges(n, [(i, j) for i in range(n) for j in range(i + 1, n)], "complete")


def erdos_renyi(n: int, p: float = DEFAULT_EDGE_PROBABILITY, seed: int = 0) -> Graph:
    """G(n, p), seeded, redrawn until connected."""
    if not 0 < p <= 1:
        raise GraphError(f"edge probability must be in (0, 1], got {p}")
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for _ in range(MAX_RANDOM_TRIES):
        keep = rng.random(len(pairs)) < p
        edges = tuple(e for e, k in zip(pairs, keep, strict=True) if k)
        if _connected(n, edges):
            return Graph(n, edges, f"random(p={p:g},seed={seed})")
    raise GraphError(f"no connected G({n}, {p}) in {MAX_RANDOM_TRIES} draws; raise p")


def load_edge_list(path: str | Path) -> Graph:
    """One edge ``i j`` per line (0-based; ``#`` comments); N = largest index + 1."""
    target = Path(path)
    try:
        lines = target.read_text().splitlines()
    except OSError as error:
        raise GraphError(f"cannot read edge list {target}: {error}") from error
    edges = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        try:
            i, j = (int(t) for t in parts)
        except ValueError:
            raise GraphError(f"{target}:{number}: expected 'i j', got {line!r}") from None
        if i < 0 or j < 0:
            raise GraphError(f"{target}:{number}: negative agent index in {line!r}")
        edges.append((i, j))
    if not edges:
        raise GraphError(f"edge list {target} has no edges")
    n = 1 + max(max(e) for e in edges)
    return Graph.from_edges(n, edges, f"file:{target.name}")


def make_graph(spec: str, n: int, *, seed: int = 0, p: float = DEFAULT_EDGE_PROBABILITY) -> Graph:
    """``ring`` | ``complete`` | ``random`` | ``file:PATH`` (or the PATH of an existing file)."""
    if spec == "ring":
        return ring(n)
    if spec == "complete":
        return complete(n)
    if spec == "random":
        return erdos_renyi(n, p, seed)
    if spec.startswith("file:") or Path(spec).is_file():
        return load_edge_list(spec.removeprefix("file:"))
    raise GraphError(f"unknown graph {spec!r}; use ring, complete, random or file:PATH")
