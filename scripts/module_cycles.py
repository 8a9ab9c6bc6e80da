#!/usr/bin/env python3
"""Import cycles between the modules of each crate in the workspace.

A module depends on another when its source names it through `crate::` (in a `use` or a
path) or, inside its own subtree, through `super::`. Modules are files (`a/b.rs` and
`a/b/mod.rs` are `a::b`); a file's inline `mod x { ... }` blocks count as the file.
A dependency of a module on its own ancestor or descendant is not a cycle: a parent
re-exports and a child uses its parent's items by design. Every strongly connected group of
two or more sibling modules (an edge between two files is lifted to the siblings that
contain them under their closest common ancestor) is printed; exits 1 when there is any.

Usage: scripts/module_cycles.py [CRATE_DIR ...]   (default: every crate of the workspace)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CRATES = [
    "crates/documentdb_errors",
    "crates/documentdb_bson",
    "crates/documentdb_query",
    "crates/documentdb_scram",
    "pg_documentdb_pgbson",
    "pg_documentdb_core",
    "pg_documentdb",
    "pg_documentdb_gw",
    "pg_documentdb_gw_host",
]

CRATE_PATH = re.compile(r"\bcrate::((?:[a-z_][a-z0-9_]*::)*[a-zA-Z_][a-zA-Z0-9_]*)")
USE_GROUP = re.compile(r"\buse\s+((?:crate|(?:super::)*super)::(?:[a-z_][a-z0-9_]*::)*)\{([^;]*)\};", re.S)
SUPER_PATH = re.compile(r"\b((?:super::)+)((?:[a-z_][a-z0-9_]*::)*[a-zA-Z_][a-zA-Z0-9_]*)")


def code_only(text):
    """The source with comments, string and char literals blanked (a small Rust lexer:
    regexes alone mis-pair quotes across comments and char literals like '"')."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 260]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            j = text.find('"' + hashes, i + len(hashes) + 2)
            i = n if j < 0 else j + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.[^']*|[^'\\])'", text[i:i + 12]):
            i += re.match(r"'(\\.[^']*|[^'\\])'", text[i:]).end()
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def modules_of(src_dir):
    mods = {}
    for dirpath, _, files in os.walk(src_dir):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), src_dir)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            mods[tuple(rel)] = os.path.join(dirpath, name)
    return mods


def resolve(path, mods):
    """The longest known module prefix of a `::`-separated path."""
    parts = tuple(path.split("::"))
    for n in range(len(parts), 0, -1):
        if parts[:n] in mods:
            return parts[:n]
    return None


def is_lineage(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def expand(mod, path):
    """`crate::a::b` -> [`a::b`]; `super::x` (from a file module) -> its parent's `x`."""
    if path.startswith("crate::"):
        return [path[len("crate::"):]]
    ups = 0
    while path.startswith("super::"):
        path = path[len("super::"):]
        ups += 1
    if ups == 0 or ups > len(mod):
        return []
    return ["::".join(mod[: len(mod) - ups] + tuple(path.split("::")))]


def edges_of(crate_dir):
    src = os.path.join(crate_dir, "src")
    mods = modules_of(src)
    edges = {m: set() for m in mods}
    for mod, file in mods.items():
        text = code_only(open(file, encoding="utf-8").read())
        targets = [m.group(1) for m in CRATE_PATH.finditer(text)]
        for group in USE_GROUP.finditer(text):
            prefix = group.group(1)
            for item in re.split(r",\s*", group.group(2)):
                item = re.split(r"::\{|\s+as\s+", item.strip())[0].strip()
                if item and item != "self":
                    targets.extend(expand(mod, prefix + item))
        for m in SUPER_PATH.finditer(text):
            targets.extend(expand(mod, m.group(0)))
        for t in targets:
            target = resolve(t, mods)
            if target is not None and target != mod and not is_lineage(mod, target):
                # Lift the edge to the two siblings under the modules' closest common
                # ancestor: `filter::node -> schema` and `schema -> filter::util` make
                # `filter` and `schema` a cycle.
                k = 0
                while mod[k] == target[k]:
                    k += 1
                a, b = mod[: k + 1], target[: k + 1]
                edges.setdefault(a, set()).add(b)
                edges.setdefault(b, set())
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main(argv):
    crates = argv or DEFAULT_CRATES
    found = 0
    for crate in crates:
        edges = edges_of(os.path.join(ROOT, crate))
        comps = cycles(edges)
        names = lambda c: ", ".join("::".join(m) or "<root>" for m in c)  # noqa: E731
        print(f"{crate}: {len(edges)} modules, {len(comps)} cycle(s)")
        for comp in comps:
            found += 1
            print(f"  cycle: {names(comp)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
