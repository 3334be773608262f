#!/usr/bin/env python3
"""Check surge's layers (README "How it works"): the top-level modules of src/ in one ordered list,
`LAYERS` below, the only place they are written.

- A module may import only its own layer or a layer below it.
- Modules of one layer may import each other, but never in a cycle.
- The embedded exchange imports only layer 0 (the leaves), whatever its place in the list: it sits
  high so that nothing of the harness can import it, and it knows nothing of the harness.
- Unit tests count: a `#[cfg(test)] mod tests` edge may go down, never up, and never closes a cycle.

Reads every `crate::X` path of each file (comments and string literals left out; `use crate::{a,
b}` groups and `super::` paths that climb to the crate root included), prints each breach as
`file:line: `a` (layer N) imports `b` (layer M)`, and checks that README.md holds the layer picture
`--print` shows, between `<!-- layers:begin -->` and `<!-- layers:end -->`. Exits 1 on any breach.

Usage: scripts/check-structure.py [SRC_DIR]   check (README.md is checked for the repository's src/)
       scripts/check-structure.py --print      print the layer picture
       scripts/check-structure.py --write-readme   write it into README.md
       scripts/check-structure.py --self-test  plant breaches in copies of src/; each must be caught
"""
import os
import re
import shutil
import sys
import tempfile

# Layer 0 first: each a name and its modules.
LAYERS = [
    ("leaves", ["units", "vocab", "histogram", "logging", "access", "behaviour"]),
    ("run directory", ["rundir"]),
    ("scenario", ["scenario"]),
    ("compiled", ["plan", "journey_file"]),
    ("measure", ["measure"]),
    ("journeys", ["journeys"]),
    ("recording", ["recording"]),
    ("engine", ["engine"]),
    ("live", ["monitor", "metrics"]),
    ("after the run", ["knee", "spikes", "gate", "cracks", "report", "merge", "replay", "capacity"]),
    ("exchange", ["exchange"]),
    ("cli", ["cli"]),
    ("commands", ["commands"]),
]
# Modules that may import only these layers (by number), wherever they sit.
ONLY = {"exchange": {0}}
# Not modules of the library: the crate roots.
ROOTS = {"lib", "main"}

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BEGIN, END = "<!-- layers:begin -->", "<!-- layers:end -->"

LAYER_OF = {m: n for n, (_, modules) in enumerate(LAYERS) for m in modules}


def picture():
    """The layer picture as the README shows it: the top layer first."""
    width = max(len(name) for name, _ in LAYERS)
    lines = [BEGIN, "```text"]
    for n in reversed(range(len(LAYERS))):
        name, modules = LAYERS[n]
        only = ONLY.get(modules[0]) if len(modules) == 1 else None
        rule = "" if only is None else "  (imports only layer " + \
            ", ".join(str(k) for k in sorted(only)) + ")"
        lines.append(f"{n:>2}  {name:<{width}}  {' '.join(modules)}{rule}")
    lines += ["```", END]
    return "\n".join(lines)


def blank(text):
    """`text` with comments and the insides of string and char literals replaced by spaces
    (newlines kept), so that paths and braces are found only in code."""
    out, i, n = [], 0, len(text)

    def keep_newlines(s):
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(keep_newlines(text[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', text[i:i + 300])) and (i == 0 or not (
                text[i - 1].isalnum() or text[i - 1] == "_")):
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append(keep_newlines(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(keep_newlines(text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '\''), else a lifetime or label.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'", text[i:i + 12])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code)


def file_module(root, path):
    """The top-level module a file belongs to, and the depth of its module path."""
    parts = os.path.relpath(path, root).split(os.sep)
    parts[-1] = parts[-1][:-3]
    if parts[-1] == "mod" and len(parts) > 1:
        parts.pop()
    return parts[0], len(parts)


def imports(root, path):
    """Every crate module `path` names: (top-level module, line, in a unit test)."""
    text = open(path, encoding="utf-8").read()
    code = blank(text)
    # Inline modules: their spans (a `super::` inside one climbs one level less far), and which
    # are unit tests.
    spans = []
    for m in re.finditer(r"\bmod\s+[A-Za-z_][A-Za-z0-9_]*\s*\{", code):
        end = matching_brace(code, m.end() - 1)
        attributes = code[:m.start()].rstrip()
        test = bool(re.search(r"#\[cfg\(test\)\]\s*(#\[[^\]]*\]\s*)*(pub(\([^)]*\))?\s+)?$",
                              attributes))
        spans.append((m.start(), end, test))
    _, depth = file_module(root, path)

    def line(at):
        return code.count("\n", 0, at) + 1

    def in_test(at):
        return any(s <= at <= e and test for s, e, test in spans)

    def nesting(at):
        return sum(1 for s, e, _ in spans if s <= at <= e)

    found = []
    # `crate::x`, `$crate::x`, and `crate::{x, y::z}` (only the group's first level).
    for m in re.finditer(r"\bcrate\s*::\s*([A-Za-z_][A-Za-z0-9_]*|\{)", code):
        if m.group(1) != "{":
            found.append((m.group(1), m.start()))
            continue
        end = matching_brace(code, m.end() - 1)
        level, start = 0, m.end()
        for k in range(m.end(), end + 1):
            ch = code[k]
            if ch == "{":
                level += 1
            elif ch == "}":
                level -= 1
            if (ch == "," and level == 0) or k == end:
                item = code[start:k]
                at = start + len(item) - len(item.lstrip())
                head = re.match(r"[A-Za-z_][A-Za-z0-9_]*", item.lstrip())
                if head and head.group(0) not in ("self", "super"):
                    found.append((head.group(0), at))
                start = k + 1
    # `super::super::x` that climbs out of the top-level module to the crate root.
    for m in re.finditer(r"\b((?:super\s*::\s*)+)([A-Za-z_][A-Za-z0-9_]*)", code):
        climbs = m.group(1).count("super")
        if climbs >= depth + nesting(m.start()):
            found.append((m.group(2), m.start()))
    return [(name, line(at), in_test(at)) for name, at in found]


def graph(root):
    """Edges of the top-level module graph: {(a, b): [(file, line, test), …]}, and the modules."""
    edges, modules = {}, set()
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            module, _ = file_module(root, path)
            if module in ROOTS:
                continue
            modules.add(module)
            for target, line, test in imports(root, path):
                if target != module:
                    edges.setdefault((module, target), []).append((path, line, test))
    return edges, modules


def cycles(nodes, edges):
    """Strongly connected components with more than one module (Tarjan)."""
    successors = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(successors.get(v, ())):
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
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def where(path, line, test, root):
    shown = os.path.relpath(path, os.path.dirname(os.path.abspath(root)))
    return f"{shown}:{line}" + (" (unit test)" if test else "")


def check(root):
    """Every breach of the layers in the modules under `root`, and the graph's size."""
    edges, modules = graph(root)
    problems = []
    for module in sorted(modules - set(LAYER_OF)):
        problems.append(f"`{module}` is in no layer: add it to LAYERS in scripts/check-structure.py")
    for module in sorted(set(LAYER_OF) - modules):
        problems.append(f"`{module}` is in LAYERS but not in {root}: take it out of the list")
    for (a, b), places in sorted(edges.items()):
        if a not in LAYER_OF or b not in LAYER_OF:
            continue
        allowed = ONLY.get(a)
        if LAYER_OF[b] > LAYER_OF[a] or (allowed is not None and LAYER_OF[b] not in allowed):
            rule = "" if allowed is None else f"; `{a}` may import only layer " + \
                ", ".join(str(n) for n in sorted(allowed))
            for path, line, test in places:
                problems.append(f"{where(path, line, test, root)}: `{a}` (layer {LAYER_OF[a]}) "
                                f"imports `{b}` (layer {LAYER_OF[b]}){rule}")
    for component in cycles(modules, edges):
        inside = [(a, b) for (a, b) in sorted(edges) if a in component and b in component]
        problems.append("cycle among {" + ", ".join(component) + "}: " + "; ".join(
            f"`{a}` imports `{b}` at {where(*edges[(a, b)][0], root)}" for a, b in inside))
    return problems, len(modules), len(edges)


def readme_problems(readme):
    text = open(readme, encoding="utf-8").read()
    if picture() in text:
        return []
    return [f"{os.path.relpath(readme)}: the layer picture between {BEGIN} and {END} is not the "
            "one LAYERS gives: run scripts/check-structure.py --write-readme"]


def write_readme(readme):
    text = open(readme, encoding="utf-8").read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        sys.exit(f"{readme}: no {BEGIN} … {END} markers to write the layer picture between")
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text[:start] + picture() + text[end + len(END):])


def main_file(root, module):
    for candidate in (f"{module}.rs", os.path.join(module, "mod.rs")):
        if os.path.exists(os.path.join(root, candidate)):
            return os.path.join(root, candidate)
    raise SystemExit(f"self-test: no file for module `{module}` in {root}")


def self_test():
    """Plant each kind of breach in a fresh copy of src/ and check that it is caught, by file
    and line."""
    source = os.path.join(REPO, "src")
    clean, _, _ = check(source)
    bottom, top = LAYERS[0][1][0], LAYERS[-1][1][0]
    # Two modules sharing a layer, for a cycle within it.
    a, b = next(modules[:2] for _, modules in LAYERS if len(modules) >= 2)
    plants = [
        ("an upward edge", {bottom: f"\nuse crate::{top}::Planted;\n"},
         f"`{bottom}` (layer 0) imports `{top}` (layer {len(LAYERS) - 1})"),
        ("an upward edge in a unit test",
         {bottom: f"\n#[cfg(test)]\nmod tests {{\n    use crate::{{{top}::Planted, units}};\n}}\n"},
         f"(unit test): `{bottom}` (layer 0) imports `{top}`"),
        ("a cycle closed by a unit test",
         {a: f"\nuse crate::{b}::Planted;\n",
          b: f"\n#[cfg(test)]\nmod tests {{\n    use crate::{a}::Planted;\n}}\n"},
         f"cycle among {{{', '.join(sorted([a, b]))}}}"),
        ("the exchange importing above the leaves", {"exchange": "\nuse crate::rundir::Planted;\n"},
         "`exchange` (layer"),
    ]
    failed = False
    for what, planted, expected in plants:
        with tempfile.TemporaryDirectory() as temporary:
            copy = os.path.join(temporary, "src")
            shutil.copytree(source, copy)
            for module, text in planted.items():
                with open(main_file(copy, module), "a", encoding="utf-8") as f:
                    f.write(text)
            problems, _, _ = check(copy)
            new = [p for p in problems if p not in clean]
            caught = [p for p in new if expected in p]
            print(f"self-test: {what}: " + ("caught" if caught else "NOT CAUGHT"))
            for problem in caught:
                print("  " + problem)
            failed |= not caught
    # The picture in the README is the list's.
    with tempfile.TemporaryDirectory() as temporary:
        readme = os.path.join(temporary, "README.md")
        with open(readme, "w", encoding="utf-8") as f:
            f.write(f"before\n{BEGIN}\nold\n{END}\nafter\n")
        stale = bool(readme_problems(readme))
        write_readme(readme)
        fixed = not readme_problems(readme)
        print("self-test: a stale README picture: " + ("caught and rewritten" if stale and fixed
                                                       else "NOT CAUGHT"))
        failed |= not (stale and fixed)
    print("self-test: ok" if not failed else "self-test: FAILED")
    return 1 if failed else 0


def main(args):
    if args == ["--print"]:
        print(picture())
        return 0
    if args == ["--write-readme"]:
        write_readme(os.path.join(REPO, "README.md"))
        print("README.md: layer picture written")
        return 0
    if args == ["--self-test"]:
        return self_test()
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(__doc__)
        return 2
    root = args[0] if args else os.path.join(REPO, "src")
    if not os.path.isdir(root):
        print(f"{root}: no such directory")
        return 2
    problems, modules, edges = check(root)
    if os.path.samefile(root, os.path.join(REPO, "src")):
        problems += readme_problems(os.path.join(REPO, "README.md"))
    print(f"{modules} top-level modules in {len(LAYERS)} layers, {edges} edges (unit tests included)")
    for problem in problems:
        print(problem)
    print("structure: ok" if not problems else f"structure: BROKEN ({len(problems)} breaches)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
