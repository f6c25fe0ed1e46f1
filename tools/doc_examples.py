#!/usr/bin/env python3
"""Counts the public items whose own doc comment has no code block.

usage: tools/doc_examples.py [--list] [MODULE ...]
       (default modules: every file or folder directly under src/)

A MODULE is a path under src/ without `.rs` (`copas`, `luasocket`,
`socketloop`, `tls`, `tcp`): the file `src/MODULE.rs` and the folder
`src/MODULE/`. For each it prints `MODULE: M of N public items lack a code
block`; `--list` also prints each such item as `file:line kind name`.
The exit status is 1 when an item lacks one, so CI or a hook can use it.

What counts as a public item: a `pub` (not `pub(crate)`/`pub(super)`/
`pub(in ...)`) fn, method, struct, enum, union, trait, type alias, const,
static, or `pub mod` (whose doc is its file's `//!` lines), and every fn
declared in a `pub trait`. Fields, enum variants, `pub use` and items
inside private inline modules (`mod sealed { .. }`, `#[cfg(test)]` ones)
do not count. A code block is a doc line
that starts with three backticks. The item's own doc is the `///` (or
`#[doc = "..."]`) lines right above it, attributes in between allowed.

A reading of the text, not the compiler: macro-generated items are not
seen (the script says which macro calls it skipped).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

ITEM = re.compile(
    r"^\s*pub\s+(?:(?:const|async|unsafe|extern\s+\"[^\"]*\")\s+)*"
    r"(fn|struct|enum|union|trait|type|const|static|mod)\s+(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)"
)
TRAIT_FN = re.compile(
    r"^\s*(?:(?:const|async|unsafe)\s+)*fn\s+([A-Za-z_][A-Za-z0-9_]*)"
)
MACRO_CALL = re.compile(r"^\s*([a-z_][a-z0-9_]*)!\s*[\(\{\[]")
DOC = re.compile(r"^\s*(?:///(?!/)(.*)|#\[doc\s*=\s*\"(.*)\"\]\s*$)")
INNER_DOC = re.compile(r"^\s*//!(.*)")
FENCE = re.compile(r"^\s*```")


def strip_strings(line):
    """The line without string/char literals and `//` comments (for brace counting)."""
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(?:\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def has_fence(doc_lines):
    return any(FENCE.match(d) for d in doc_lines)


def file_doc(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = INNER_DOC.match(line)
            if m:
                out.append(m.group(1))
            elif line.strip() and not line.lstrip().startswith("#!["):
                break
    return out


def scan(path):
    """Yields (line, kind, name, has_example) for the public items of one file."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    doc = []  # doc lines of the item being approached
    depth = 0
    skip_until = None  # depth at which a #[cfg(test)] module ends
    cfg_test = False
    trait_depth = None  # depth inside a `pub trait` body
    attr_open = 0  # bracket depth of a multi-line attribute
    for no, line in enumerate(lines, 1):
        code = strip_strings(line)
        stripped = line.strip()
        if skip_until is None and attr_open == 0:
            m = DOC.match(line)
            if m:
                doc.append(m.group(1) if m.group(1) is not None else m.group(2))
            elif stripped.startswith("#["):
                if stripped.startswith("#[cfg(test)]"):
                    cfg_test = True
                attr_open = code.count("[") - code.count("]")
            elif stripped.startswith("//") or not stripped:
                if not stripped:
                    pass
            else:
                if re.match(r"^\s*mod\s+\w+\s*\{", line) or (
                    cfg_test and re.match(r"^\s*pub\s+mod\s+\w+\s*\{", line)
                ):
                    # A private inline module (a `sealed` trait's, tests):
                    # its `pub` items are not public.
                    skip_until = depth
                elif trait_depth is not None and depth == trait_depth:
                    m = TRAIT_FN.match(line)
                    if m:
                        yield no, "trait fn", m.group(1), has_fence(doc)
                else:
                    m = ITEM.match(line)
                    if m:
                        kind, name = m.group(1), m.group(2)
                        if kind == "mod" and code.rstrip().endswith(";"):
                            base = os.path.dirname(path)
                            if os.path.basename(path) not in ("mod.rs", "lib.rs"):
                                base = os.path.join(base, os.path.basename(path)[:-3])
                            sub = os.path.join(base, name + ".rs")
                            if not os.path.exists(sub):
                                sub = os.path.join(base, name, "mod.rs")
                            yield no, kind, name, has_fence(doc) or has_fence(file_doc(sub))
                        else:
                            yield no, kind, name, has_fence(doc)
                        if kind == "trait":
                            trait_depth = depth + 1
                    else:
                        mm = MACRO_CALL.match(line)
                        if mm and depth <= 1 and mm.group(1) not in STD_MACROS:
                            SKIPPED.add((os.path.relpath(path, ROOT), no, mm.group(1)))
                doc = []
                cfg_test = False
        elif attr_open:
            attr_open += code.count("[") - code.count("]")
        depth += code.count("{") - code.count("}")
        if skip_until is not None and depth <= skip_until and "}" in code:
            skip_until = None
            doc = []
        if trait_depth is not None and depth < trait_depth:
            trait_depth = None


SKIPPED = set()
# Expression macros of std and tokio, which make no items.
STD_MACROS = {
    "assert", "assert_eq", "assert_ne", "debug_assert", "debug_assert_eq", "concat",
    "debug_assert_ne", "eprint", "eprintln", "format", "matches", "panic", "print",
    "println", "ready", "todo", "unimplemented", "unreachable", "vec", "write", "writeln",
    "env", "select", "pin", "join", "try_join",
}


def module_files(module):
    out = []
    f = os.path.join(ROOT, module + ".rs")
    if os.path.isfile(f):
        out.append(f)
    d = os.path.join(ROOT, module)
    if os.path.isdir(d):
        for root, _, names in os.walk(d):
            out += [os.path.join(root, n) for n in sorted(names) if n.endswith(".rs")]
    return sorted(out)


def main(argv):
    listing = "--list" in argv
    mods = [a for a in argv if not a.startswith("--")]
    if not mods:
        mods = sorted(
            {n[:-3] if n.endswith(".rs") else n for n in os.listdir(ROOT)} - {"lib", "main"}
        )
    missing_any = False
    for mod in mods:
        files = module_files(mod)
        if not files:
            print(f"{mod}: no such module under src/", file=sys.stderr)
            return 2
        total, lacking = 0, []
        for path in files:
            for no, kind, name, ok in scan(path):
                total += 1
                if not ok:
                    lacking.append((os.path.relpath(path, os.path.dirname(ROOT)), no, kind, name))
        missing_any |= bool(lacking)
        print(f"{mod}: {len(lacking)} of {total} public items lack a code block")
        if listing:
            for path, no, kind, name in lacking:
                print(f"  {path}:{no} {kind} {name}")
    for path, no, name in sorted(SKIPPED):
        print(f"(not seen: items made by {name}! at src/{path}:{no})", file=sys.stderr)
    return 1 if missing_any else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
