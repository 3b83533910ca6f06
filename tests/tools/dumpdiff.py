#!/usr/bin/env python3
"""dumpdiff.py - compare two plain pg_dump outputs entry by entry.

    dumpdiff.py SOURCE.sql TARGET.sql [KNOWN]

pg_dump heads every archive entry with a comment line
"-- Name: N; Type: T; Schema: S; Owner: O" (or "-- Data for Name: ...").
The entries are keyed by that header; an entry's text is its statements
without comment lines.  A TABLE DATA entry is compared as a sorted list of
rows, since rows loaded in parallel may be stored in another order.

KNOWN is a file of lines "REGEX<TAB>why": an entry whose header matches a
REGEX may differ (or be missing from the target) and is reported as known,
with the reason.  Prints one line per differing entry and a last line
"entries: N equal, N known, N different"; exits 1 if any entry differs
that is not known, or if a KNOWN pattern matched nothing (a stale list).
"""
import re
import sys

HEADER = re.compile(r"^-- (?:Data for )?Name: .*; Type: .*; Schema: .*;")


def entries(path):
    out = {}
    key = "(prelude)"
    body = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if HEADER.match(line):
                out.setdefault(key, []).append(body)
                # the owner may differ (the target's role): key without it
                key = re.sub(r"; Owner: .*$", "", line[3:])
                body = []
                continue
            if line.startswith("--") or line == "":
                continue
            if line.startswith("\\restrict") or line.startswith("\\unrestrict"):
                continue
            body.append(line)
    out.setdefault(key, []).append(body)
    norm = {}
    for k, bodies in out.items():
        texts = []
        for b in bodies:
            texts.append("\n".join(sorted(b)) if "Type: TABLE DATA" in k else "\n".join(b))
        norm[k] = sorted(texts)
    return norm


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src = entries(sys.argv[1])
    tgt = entries(sys.argv[2])
    known = []
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                pat, _, why = line.partition("\t")
                known.append([re.compile(pat), why, 0])
    equal = known_n = bad = 0
    for k in sorted(set(src) | set(tgt)):
        if src.get(k) == tgt.get(k):
            equal += 1
            continue
        what = "missing in the target" if k not in tgt else (
            "only in the target" if k not in src else "different")
        reason = None
        for kn in known:
            if kn[0].search(k):
                kn[2] += 1
                reason = kn[1]
                break
        if reason is not None:
            known_n += 1
            print(f"known: {k}: {what} ({reason})")
        else:
            bad += 1
            print(f"DIFFERENT: {k}: {what}")
    stale = [kn for kn in known if kn[2] == 0]
    for kn in stale:
        print(f"STALE known difference (matched nothing): {kn[0].pattern}")
    print(f"entries: {equal} equal, {known_n} known, {bad} different")
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main())
