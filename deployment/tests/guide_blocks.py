#!/usr/bin/env python3
"""The shell command blocks of the operations guide, one per ```bash fence.

Usage: guide_blocks.py GUIDE list          -> "ID<TAB>heading" per block, in order
       guide_blocks.py GUIDE show ID       -> the block's text

A block's ID is its heading, lower-cased, non-alphanumerics as '-' (like GitHub's anchors),
with "-2", "-3" ... for further blocks under the same heading.
"""
import re
import sys


def blocks(path):
    heading, seen, out, current = "", {}, [], None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if current is not None:
            if line.startswith("```"):
                out.append((ident, heading, "\n".join(current) + "\n"))
                current = None
            else:
                current.append(line)
            continue
        m = re.match(r"^#{1,6} +(.*)", line)
        if m:
            heading = m.group(1).strip()
            continue
        if line.strip() == "```bash":
            slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"^\d+\.\s*", "", heading).lower()).strip("-")
            seen[slug] = seen.get(slug, 0) + 1
            ident = slug if seen[slug] == 1 else f"{slug}-{seen[slug]}"
            current = []
    return out


if __name__ == "__main__":
    found = blocks(sys.argv[1])
    if sys.argv[2] == "list":
        for ident, heading, _ in found:
            print(f"{ident}\t{heading}")
    else:
        for ident, _, text in found:
            if ident == sys.argv[3]:
                sys.stdout.write(text)
                break
        else:
            sys.exit(f"no block {sys.argv[3]}")
