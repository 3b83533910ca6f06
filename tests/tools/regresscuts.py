#!/usr/bin/env python3
"""regresscuts.py - the lexer's statement cuts against psql's, per script.

    regresscuts.py [--corpus] SERVER_JSONLOG CUTS SCRIPTS_MAP EXPECTED

SERVER_JSONLOG: the server's jsonlog (log_statement = all, log_duration,
log_min_error_statement = error) while psql ran the scripts, each with its
own application_name.  CUTS: `lexdiff --cuts` over the scripts.
SCRIPTS_MAP: lines "APPLICATION_NAME<TAB>PATH".  EXPECTED: lines
"RULE<TAB>why" naming the rules below that may explain a difference;
"#" lines and empty lines are comments.

For each script the two statement sequences are aligned: equal texts
(leading and trailing whitespace aside; a psql variable reference in the
lexer's text matches any text) pair up, and each stretch between pairs
where they differ is a difference, which one of the rules must explain:

  meta-queries    psql sent statements the lexer has none for, right after a
                  meta-command line (\\d..., \\copy, \\gexec, \\g, \\watch,
                  \\crosstabview, \\lo_..., \\c: psql's own queries, or the
                  query buffer sent again)
  if-branch       statements the lexer has and psql did not send, all of
                  them between \\if and \\endif (a branch psql skipped)
  backslash       the stretch holds a statement the lexer refused for a
                  backslash inside it (\\gset, \\g, \\;, \\bind ... at the end
                  of a statement): psql ran the text before the backslash,
                  or joined statements with \\;
  copy-failed     the stretch follows a COPY ... FROM stdin that failed on
                  the server: psql then reads the COPY's data lines as SQL
  fetch-count     psql's FETCH_COUNT cursor: DECLARE _psql_cursor ... FOR
                  the statement, FETCH and CLOSE, in a transaction
  on-error-rollback  psql's ON_ERROR_ROLLBACK savepoints
  comment-at-end  psql sent a buffer of block comments at the end of the
                  script
  variable-statements  psql sent more statements right after a statement
                  that is one variable reference (:name;), whose value holds
                  several
  connect-failed  the lexer's statements at the end of the script after a
                  \\c, where psql stopped: the server refused that connection

With --corpus (mangled inputs, the fuzzer's): each script is compared only
up to where the lexer refuses it (its first error, or a statement it marks
as one psql cuts elsewhere, which filter refuses), since filter and serve
stop there; the stretch from there to the end is explained by

  lexer-stops     the lexer refused the input there; what psql does after
                  does not reach pgsluice's target

and a rule that explains nothing is no failure (the corpus changes;
lexer-stops never applies without --corpus).

Prints "# " lines for each difference, explained or not, a count per rule,
and a last line "N scripts, N statements, N pairs, N differences (N
explained)".  Exit 1 on an unexplained difference or on a rule of EXPECTED
that explained nothing.
"""
import json
import re
import sys
from collections import Counter, defaultdict

RULES = ("meta-queries", "if-branch", "backslash", "copy-failed", "fetch-count",
         "on-error-rollback", "comment-at-end", "variable-statements", "connect-failed",
         "lexer-stops")
VAR = re.compile(r"(?<![:\w]):(?:'[A-Za-z_]\w*'|\"[A-Za-z_]\w*\"|[A-Za-z_]\w*)")
SAVEPOINT = re.compile(r"(SAVEPOINT|RELEASE|ROLLBACK TO) pg_psql_temporary_savepoint\Z")
COMMENT_ONLY = re.compile(r"(?s)\s*(/\*.*\*/\s*)+\Z")
WHOLE_VAR = re.compile(r"\s*:[A-Za-z_]\w*\s*;\Z")
BLANK = re.compile(r"\n\n+")
CURSOR = re.compile(r"DECLARE _psql_cursor NO SCROLL CURSOR FOR\n(.*)\Z", re.S)
CURSOR_OWN = re.compile(r"(FETCH FORWARD \d+ FROM _psql_cursor|CLOSE _psql_cursor|BEGIN|COMMIT)\Z")


def short(s, n=110):
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "..."


def read_cuts(path):
    """{script: [item]}, item = dict(kind, line, text[, msg, rows])."""
    out, cur = {}, None
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        j = data.index(b"\n", i)
        head = data[i:j].decode("utf-8", "surrogateescape")
        i = j + 1
        kind, rest = head[0], head[2:]
        if kind == "F":
            cur = out.setdefault(rest, [])
        elif kind in "SPME":
            line, n = (int(x) for x in rest.split(" "))
            text = data[i:i + n].decode("utf-8", "surrogateescape")
            i += n + 1
            cur.append({"kind": "S" if kind == "P" else kind, "line": line, "text": text,
                        "psql_differs": kind == "P"})
        elif kind == "X":
            cur[-1]["msg"] = rest
        elif kind == "C":
            line, rows = (int(x) for x in rest.split(" "))
            cur.append({"kind": "C", "line": line, "rows": rows})
    return out


def read_log(path):
    """{application_name: [dict(text, error)]}, in the order sent, and the
    user names the server refused a connection for."""
    out = defaultdict(list)
    pending = {}
    refused = set()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for raw in f:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if rec.get("error_severity") == "FATAL" and rec.get("ps") == "startup":
                refused.add(rec.get("user"))  # a \\c that failed: psql stops there
            app = rec.get("application_name")
            if not app or rec.get("backend_type") != "client backend":
                continue  # a parallel worker's errors are its leader's
            sess = rec.get("session_id")
            msg = rec.get("message", "")
            sev = rec.get("error_severity")
            seq = out[app]
            if sev == "LOG" and msg.startswith("statement: "):
                seq.append({"text": msg[len("statement: "):], "error": False})
                pending[sess] = seq[-1]
            elif sev == "LOG" and msg.startswith("duration: "):
                pending[sess] = None
            elif sev in ("ERROR", "FATAL") and "statement" in rec:
                p = pending.get(sess)
                if p is not None and p["text"] == rec["statement"]:
                    p["error"] = True
                else:  # failed before log_statement saw it: a syntax error
                    seq.append({"text": rec["statement"], "error": True})
                pending[sess] = None
    return out, refused


def norm(text):
    """psql drops empty lines outside quotes; whitespace around the statement"""
    return BLANK.sub("\n", text).strip()


class Matcher:
    def __init__(self, text):
        self.text = norm(text)
        self.rx = None
        if ":" in self.text and VAR.search(self.text):
            parts = VAR.split(self.text)
            self.rx = re.compile("(?s)" + ".*?".join(re.escape(p) for p in parts) + r"\Z")

    def __call__(self, other):
        other = norm(other)
        if self.rx is None:
            return self.text == other
        return self.rx.match(other) is not None


def psql_text(p):
    m = CURSOR.match(p["text"])
    return m.group(1) if m else p["text"]


def align(lex, psq, window=30):
    """Greedy alignment: the differing stretches, each (lexer indexes, psql
    indexes, lexer index where it starts, psql index where it starts), and
    the number of pairs."""
    match = [Matcher(x["text"]) for x in lex]
    # a statement that is only a variable reference matches anything: good
    # enough in step, not to find where the two sequences meet again
    anchor = [WHOLE_VAR.match(x["text"]) is None for x in lex]
    ptext = [psql_text(p) for p in psq]
    i = j = pairs = 0
    hunks = []
    while i < len(lex) or j < len(psq):
        if i < len(lex) and j < len(psq) and match[i](ptext[j]):
            i += 1
            j += 1
            pairs += 1
            continue
        best = None
        # psql's extra statements (a meta-command's queries) can be many, the
        # lexer's extra ones few; then both, in a small square
        for b in range(1, 3000):
            if i < len(lex) and anchor[i] and j + b < len(psq) and match[i](ptext[j + b]):
                best = (0, b)
                break
        for a in range(1, 300):
            if best and a >= sum(best):
                break
            if i + a < len(lex) and anchor[i + a] and j < len(psq) and match[i + a](ptext[j]):
                best = (a, 0)
                break
        for d in range(2, 2 * window + 1):
            if best and d >= sum(best):
                break
            for a in range(max(1, d - window), min(d - 1, window) + 1):
                b = d - a
                if i + a < len(lex) and anchor[i + a] and j + b < len(psq) and \
                        match[i + a](ptext[j + b]):
                    best = (a, b)
                    break
            else:
                continue
            break
        if best is None:
            best = (len(lex) - i, len(psq) - j)
        hunks.append((list(range(i, i + best[0])), list(range(j, j + best[1])), i, j))
        i += best[0]
        j += best[1]
    return hunks, pairs


def classify(items, lex_idx, psq, hunk, refused):
    """The rule that explains a differing stretch, or None."""
    li, pj, i, j = hunk
    # where it stands in the full item list (with metas, COPY ends)
    if li:
        first, last = lex_idx[li[0]], lex_idx[li[-1]]
    else:  # the metas and COPY ends before the next lexer statement count
        first = lex_idx[i - 1] + 1 if i > 0 else 0
        last = lex_idx[i] - 1 if i < len(lex_idx) else len(items) - 1
    if (li and items[lex_idx[li[-1]]].get("stops")) or \
            (not li and i == len(lex_idx) and lex_idx and items[lex_idx[-1]].get("stops")):
        return "lexer-stops"
    if any(items[k]["kind"] == "E" for k in range(first, last + 1)):
        return "backslash"
    k = first - 1  # the lexer statement before the stretch
    while k >= 0 and items[k]["kind"] in ("M", "C"):
        k -= 1
    between = items[k + 1:first] + [x for x in items[first:last + 1] if x["kind"] in ("M", "C")]
    if k >= 0 and items[k]["kind"] == "E":
        return "backslash"
    if pj and any(CURSOR.match(p["text"]) for p in psq) and \
            all(CURSOR_OWN.match(psq[n]["text"].strip()) for n in pj):
        return "fetch-count"
    if pj and not li and all(SAVEPOINT.match(psq[n]["text"]) for n in pj):
        return "on-error-rollback"
    if pj and not li and all(COMMENT_ONLY.match(psq[n]["text"]) for n in pj) and i == len(lex_idx):
        return "comment-at-end"
    if not li and i > 0 and WHOLE_VAR.match(items[lex_idx[i - 1]]["text"]):
        return "variable-statements"
    if li and not pj and li[-1] == len(lex_idx) - 1:
        connects = [x["text"].split() for x in items[k + 1:first] if x["kind"] == "M" and
                    x["text"].split()[0] in ("\\c", "\\connect")]
        if connects and len(connects[-1]) > 2 and connects[-1][2] in refused:
            return "connect-failed"
    if not li and i < len(lex_idx) and items[lex_idx[i]]["kind"] == "E":
        return "backslash"  # \\gdesc, \\crosstabview: their queries come first
    prev = psq[j - 1] if j > 0 else None
    if prev is not None and prev["error"] and \
            re.match(r"(?is)\s*(/\*.*?\*/\s*)*copy\b.*\bfrom\s+stdin", prev["text"]):
        return "copy-failed"
    if not li and any(x["kind"] == "M" for x in between):
        return "meta-queries"
    if li and not pj:
        depth = 0
        for x in items[:first]:
            if x["kind"] == "M":
                w = x["text"].split()[0]
                depth += w == "\\if"
                depth -= w == "\\endif"
        if depth > 0:
            return "if-branch"
    return None


def main():
    args = sys.argv[1:]
    corpus = args[:1] == ["--corpus"]
    logfile, cutsfile, mapfile, expfile = args[1:] if corpus else args
    allowed = {}
    with open(expfile, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            rule, _, why = line.partition("\t")
            if rule not in RULES or not why:
                print("# %s: not a rule with a reason: %s" % (expfile, short(line)))
                return 1
            allowed[rule] = why
    scripts = []
    with open(mapfile, encoding="utf-8") as f:
        for line in f:
            app, _, path = line.rstrip("\n").partition("\t")
            scripts.append((app, path))
    cuts = read_cuts(cutsfile)
    log, refused = read_log(logfile)
    used = Counter()
    bad = total = explained = nstat = npairs = 0
    for app, path in scripts:
        items = cuts.get(path)
        psq = log.get(app, [])  # none: psql sent nothing
        if items is None:
            print("# %s: no lexer cuts" % path)
            bad += 1
            continue
        if corpus:  # up to the lexer's first refusal
            stop = next((k for k, x in enumerate(items) if x["kind"] == "E" or
                         x.get("psql_differs")), None)
            if stop is not None:
                items = items[:stop + 1]
                items[stop]["stops"] = True
        lex_idx = [k for k, x in enumerate(items) if x["kind"] in "SE"]
        lex = [items[k] for k in lex_idx]
        nstat += len(lex)
        hunks, pairs = align(lex, psq)
        npairs += pairs
        name = path.rsplit("/", 1)[-1]
        if "/sql/" in path:
            name = path.rsplit("/sql/", 1)[0].rsplit("/", 1)[-1] + "/" + name
        for hunk in hunks:
            li, pj, i, j = hunk
            total += 1
            rule = classify(items, lex_idx, psq, hunk, refused)
            line = lex[i]["line"] if i < len(lex) else lex[-1]["line"] if lex else 0
            desc = "lexer %s | psql %s" % (
                " ; ".join(short(lex[k]["text"], 70) for k in li[:2]) or "-",
                " ; ".join(short(psq[k]["text"], 70) for k in pj[:2]) or "-")
            if rule is not None and rule in allowed:
                explained += 1
                used[rule] += 1
                if used[rule] <= 2:
                    print("# expected (%s): %s:%d: %s" % (rule, name, line, desc))
            else:
                bad += 1
                print("# DIFFERENT%s: %s:%d: %s" % (" (%s, not in the list)" % rule if rule else "",
                                                   name, line, desc))
    for rule in allowed:
        print("# rule %-13s %5d  %s" % (rule, used[rule], allowed[rule]))
        if used[rule] == 0 and not corpus and rule != "lexer-stops":
            print("# rule %s explained nothing: take it off %s" % (rule, expfile))
            bad += 1
    print("%d scripts, %d lexer statements, %d pairs, %d differences (%d explained)"
          % (len(scripts), nstat, npairs, total, explained))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
