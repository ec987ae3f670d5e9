#!/usr/bin/env python3
"""What each page of the split browser bundle loads (scripts/build.sh).

`wasm-split-cli` cuts the bundle at each lazy route into the main module, one `split_*.wasm`
per page and `chunk_*.wasm` files of code shared by several pages; its loader
(`__wasm_split.js`) lists before each chunk the pages that need it. From that:

  wasm-pages.py manifest DIR   writes DIR/__wasm_split_manifest.json, what Leptos reads to name a
                               page's parts in `<link rel="preload">` (the map cargo-leptos writes)
  wasm-pages.py sizes DIR      prints, per page, what a first visit fetches: the main module, the
                               page's split and its chunks, raw and brotli (DIR's `.br` files);
                               with MAX_RAW and MAX_BROTLI set, fails when a page is over either
"""
import json
import os
import re
import sys

LOADER = "__wasm_split.js"
MANIFEST = "__wasm_split_manifest.json"
# `/* page_a, page_b */` then `const __chunk_N = makeLoad(... "./chunk_N.wasm" ...`
CHUNK = re.compile(r'/\* ([^*]*) \*/\s*const __chunk_\d+ = makeLoad\(\(\) => \{\s*const src = fetch\(new URL\("\./([^"]+)\.wasm"')
# `export const __wasm_split_load_<page> = wrapAsyncCb(makeLoad(... "./split_<page>.wasm" ...`
SPLIT = re.compile(r'export const __wasm_split_load_(\S+) = wrapAsyncCb\(makeLoad\(\(\) => \{\s*const src = fetch\(new URL\("\./([^"]+)\.wasm"')


def manifest(directory, loader):
    """Page → the files (stems) its first visit needs besides the main module."""
    js = open(os.path.join(directory, loader)).read()
    pages = {}
    for match in CHUNK.finditer(js):
        for page in filter(None, (p.strip() for p in match.group(1).split(","))):
            pages.setdefault(page, []).append(match.group(2))
    splits = SPLIT.findall(js)
    if not splits:
        sys.exit(f"wasm-pages: no split pages in {loader}: has wasm-split-cli's output changed?")
    for page, stem in splits:
        pages.setdefault(page, []).append(stem)
    return pages


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("manifest", "sizes"):
        sys.exit(__doc__)
    mode, directory = sys.argv[1], sys.argv[2]
    if mode == "manifest":
        loader = os.environ.get("LOADER", LOADER)
        with open(os.path.join(directory, MANIFEST), "w") as out:
            json.dump(manifest(directory, loader), out, indent=1, sort_keys=True)
        return
    pages = json.load(open(os.path.join(directory, MANIFEST)))
    main_wasm = os.path.join(directory, "selfheal.wasm")
    max_raw, max_br = int(os.environ.get("MAX_RAW", 0)), int(os.environ.get("MAX_BROTLI", 0))
    over = []
    rows = []
    for page, stems in sorted(pages.items()):
        files = [main_wasm] + [os.path.join(directory, s + ".wasm") for s in stems]
        raw = sum(size(f) for f in files)
        br = sum(size(f + ".br") for f in files)
        name = re.sub(r"^__(.*)_view_\d+$", r"\1", page)
        rows.append((raw, br, len(files), name))
        if (max_raw and raw > max_raw) or (max_br and br > max_br):
            over.append(name)
    print(f"wasm-pages: main module {size(main_wasm)} bytes raw, {size(main_wasm + '.br')} brotli")
    for raw, br, count, name in sorted(rows, reverse=True):
        print(f"wasm-pages: {name:16} {raw:9} raw {br:8} brotli in {count:3} files")
    if over:
        sys.exit(f"wasm-pages: over the budget ({max_raw} raw, {max_br} brotli): {', '.join(over)}")


if __name__ == "__main__":
    main()
