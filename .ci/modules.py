#!/usr/bin/env python3
"""Fails if the library's top-level modules import each other in a cycle.

brisk's modules follow a request's path and may only use the stages after
them (see README.md, "Layout"). This reads every `crate::<module>` path in
brisk/src (comments ignored; items re-exported at the crate root, such as
`crate::HttpError`, count as their module) and checks that the graph of
top-level modules has no cycle. It prints the graph in layer order, or the
cycle it found.

    python3 .ci/modules.py [brisk/src]
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "brisk", "src")

# Items re-exported at the crate root, and the module each comes from.
ROOT_ITEMS = {
    "App": "app",
    "HttpError": "error",
    "Json": "response",
    "JsonResponse": "response",
    "IntoResponse": "response",
    "ServerConfig": "serve",
    "run_in_threadpool": "exec",
    "TestClient": "testing",
    "middleware": "service",
}


def module_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    name = rel[0]
    return name[:-3] if name.endswith(".rs") else name


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def references(text):
    found = set(re.findall(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)", text))
    for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
        found.update(re.findall(r"(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)", group))
    return {ROOT_ITEMS.get(r, r) for r in found}


def main():
    modules = set()
    edges = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            module = module_of(path)
            if module == "lib":
                continue
            modules.add(module)
            refs = references(strip_comments(open(path, encoding="utf-8").read()))
            edges.setdefault(module, set()).update(r for r in refs if r != module)
    unknown = {r for deps in edges.values() for r in deps} - modules
    for deps in edges.values():
        deps -= unknown  # macros and the like (`crate::routes!`)
    # Depth-first search for a cycle.
    state = {}
    stack = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == "open":
                cycle = stack[stack.index(d):] + [d]
                sys.exit("module cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(modules):
        if m not in state:
            visit(m)
    # Layers: a module's depth is one more than its deepest dependency's.
    depth = {}

    def layer(m):
        if m not in depth:
            depth[m] = 1 + max((layer(d) for d in edges.get(m, ())), default=-1)
        return depth[m]

    for m in sorted(modules, key=lambda m: (-layer(m), m)):
        print(f"{m:>9} -> {', '.join(sorted(edges.get(m, ()))) or '-'}")
    print(f"no cycle between the {len(modules)} top-level modules")


if __name__ == "__main__":
    main()
