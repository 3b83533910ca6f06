#!/usr/bin/env python3
"""authflood.py - many AUTH attempts with wrong tokens, each from its own
loopback address, a few at a time, each waiting for the daemon's answer.

    authflood.py PORT N CONCURRENCY [SOURCE]

Attempt i connects to 127.0.0.1:PORT from 127.2.X.Y (i-th address; with
SOURCE, always from that address), sends "AUTH wrong-<i>", and reads until
the daemon closes.  At the end, one line per outcome, then the elapsed
time:

    wrong_token 3000     answered "ERROR authentication failed: wrong token"
    other 0              another answer (the first line is printed as "# ...")
    elapsed 10.42        seconds from the first connect to the last answer

Used by tests/integration/security_auth_rate.sh.  Exit 0, 2 on usage.
"""
import socket
import sys
import threading
import time


def attempt(port, i, source, out, lock):
    src = source or "127.2.%d.%d" % (i // 250, 1 + i % 250)
    answer = b""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(120)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"AUTH wrong-%d\n" % i)
        while True:
            b = s.recv(4096)
            if not b:
                break
            answer += b
        s.close()
    except OSError as e:
        answer = ("(%s)" % e).encode()
    first = answer.split(b"\n", 1)[0].decode("utf-8", "replace")
    with lock:
        if first.startswith("ERROR authentication failed: wrong token"):
            out["wrong_token"] += 1
        else:
            out["other"] += 1
            if out["other"] <= 5:
                print("# %s: %s" % (src, first))


def main():
    if len(sys.argv) not in (4, 5):
        print("usage: authflood.py PORT N CONCURRENCY [SOURCE]", file=sys.stderr)
        return 2
    port, n, conc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    source = sys.argv[4] if len(sys.argv) == 5 else None
    out = {"wrong_token": 0, "other": 0}
    lock = threading.Lock()
    nxt = [0]

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            attempt(port, i, source, out, lock)

    start = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("wrong_token %d\nother %d\nelapsed %.2f" % (out["wrong_token"], out["other"],
                                                     time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
