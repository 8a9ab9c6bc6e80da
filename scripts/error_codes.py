#!/usr/bin/env python3
"""Checks that every MongoDB "Location" code the sources raise above the direct SQLSTATE
range (1,632,959) is listed in documentdb_errors::LARGE_CODES: an unlisted one reaches
clients as InternalError (code 1) instead of its own code.

Every 7-digit number in non-test code (before a file's `#[cfg(test)]`, outside tests/
folders and comments) at or above that range counts as a raised code.
"""
import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DIRECT_LIMIT = 35 * 36 * 36 * 36


def main():
    lib = open(os.path.join(ROOT, "crates/documentdb_errors/src/lib.rs")).read()
    listed = re.search(r"LARGE_CODES: &\[i32\] = &\[(.*?)\];", lib, re.S).group(1)
    registered = {int(n) for n in re.findall(r"\b\d+\b", re.sub(r"//[^\n]*", "", listed))}
    missing = {}
    patterns = ("crates/*/src/**/*.rs", "pg_documentdb*/src/**/*.rs")
    for pattern in patterns:
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            if "documentdb_errors" in path:
                continue
            for number, line in enumerate(open(path), 1):
                if line.strip() == "#[cfg(test)]":
                    break
                line = re.sub(r'//.*|"[^"]*"', "", line)
                for code in re.findall(r"\b(\d{7})\b", line):
                    if int(code) >= DIRECT_LIMIT and int(code) not in registered:
                        missing.setdefault(int(code), f"{os.path.relpath(path, ROOT)}:{number}")
    for code, where in sorted(missing.items()):
        print(f"error code {code} ({where}) is not in documentdb_errors::LARGE_CODES", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
