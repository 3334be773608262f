#!/usr/bin/env python3
"""Check surge's one-way module structure (README "How it works"):

- no cycle among the top-level modules of src/;
- the leaves (units, vocab, histogram) import nothing of the crate;
- the embedded exchange imports only the leaves.

Reads every `crate::X` mention of each file (unit-test modules left out). Prints the graph's size
and every breach; exits 1 if there is one. Usage: scripts/check-structure.py [SRC_DIR]
"""
import os
import re
import sys

LEAVES = {"units", "vocab", "histogram"}
EXCHANGE_MAY_USE = LEAVES

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")


def top(path):
    first = os.path.relpath(path, root).split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


edges = {}
for directory, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(directory, name)
        module = top(path)
        if module in ("main", "lib"):
            continue
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
        used = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
        for group in re.findall(r"use crate::\{([^;]*)\}", text, flags=re.S):
            used |= set(re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)(?=::|\s*[,}]|$)", group))
        edges.setdefault(module, set()).update(used - {module})

problems = []
for leaf in sorted(LEAVES):
    if edges.get(leaf):
        problems.append(f"leaf `{leaf}` imports {sorted(edges[leaf])}")
extra = edges.get("exchange", set()) - EXCHANGE_MAY_USE
if extra:
    problems.append(f"`exchange` imports {sorted(extra)}; it may import only {sorted(EXCHANGE_MAY_USE)}")

# Cycles: strongly connected components with more than one module (Tarjan).
index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


nodes = sorted(set(edges) | {w for targets in edges.values() for w in targets})
sys.setrecursionlimit(10000)
for v in nodes:
    if v not in index:
        visit(v)
for cycle in cycles:
    problems.append("cycle: {" + ", ".join(cycle) + "}")

count = sum(len(t) for t in edges.values())
print(f"{len(nodes)} top-level modules, {count} edges, {len(cycles)} cycle(s)")
for problem in problems:
    print("  " + problem)
print("structure: ok" if not problems else "structure: BROKEN")
sys.exit(1 if problems else 0)
