#!/bin/bash
# deploy_syntax.sh - the container and deployment files parse and hang
# together (no Docker engine or cluster runs here, so this is as far as a
# test can go):
#
#   - docker-compose.yml and deploy/k8s/*.yaml parse as YAML (PyYAML), and
#     have the shape that matters: postgres:17-alpine with a healthcheck,
#     pgsluice built from the Dockerfile, waiting for service_healthy,
#     publishing 5480, PGPASSWORD from a variable; a Job running serve
#     --once --clear-target with PGPASSWORD from a Secret, a Service whose
#     selector matches the Job's pod;
#   - every option these files and the systemd unit give `pgsluice serve`
#     is one that `pgsluice serve --help` lists;
#   - deploy/systemd/pgsluice.service passes `systemd-analyze verify` with
#     no message at all, and the variables it uses are in the env example;
#   - the Dockerfile: a debian:12 build stage, a debian:12-slim runtime
#     stage without -dev packages, a non-root USER, EXPOSE 5480, the
#     pgsluice ENTRYPOINT;
#   - safe defaults: no serve command line in these files (the Dockerfile's
#     CMD, compose's command, the Job's args, the unit's ExecStart with the
#     env example's values) listens on a non-loopback address with
#     --insecure-plaintext and no --token-file (the checker is first shown
#     to flag such a line); each of them asks for a token; compose
#     publishes on 127.0.0.1 only; README's `docker compose up` line sets
#     the variable compose reads.
#
# Without PyYAML (Debian: python3-yaml) or systemd-analyze, those checks
# are skipped, loudly, and a minimal structural check stands in for YAML.
. "$(dirname "$0")/../lib/common.sh"

COMPOSE=$ROOT/docker-compose.yml
DOCKERFILE=$ROOT/Dockerfile
UNIT=$ROOT/deploy/systemd/pgsluice.service
ENVEX=$ROOT/deploy/systemd/pgsluice.env.example
K8S=("$ROOT"/deploy/k8s/*.yaml)

for f in "$COMPOSE" "$DOCKERFILE" "$UNIT" "$ENVEX" "$ROOT/deploy/k8s/README.md" "${K8S[@]}"; do
	check "deploy: ${f#"$ROOT"/} exists" test -s "$f"
done

# ---- YAML ----------------------------------------------------------------------

if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$COMPOSE" "${K8S[@]}" >"$T/yaml.out" 2>&1 <<'PY'
import sys, yaml

def res(name, good, why=""):
    print(("ok - " if good else "not ok - ") + "deploy yaml: " + name + ("" if good else ": " + why))

compose_path, k8s_paths = sys.argv[1], sys.argv[2:]
try:
    c = yaml.safe_load(open(compose_path))
    res("docker-compose.yml parses", True)
except Exception as e:
    res("docker-compose.yml parses", False, str(e))
    c = None
if c is not None:
    sv = c.get("services", {})
    pg, ps = sv.get("postgres", {}), sv.get("pgsluice", {})
    env = pg.get("environment", {})
    res("compose: postgres is postgres:17-alpine", pg.get("image") == "postgres:17-alpine", str(pg.get("image")))
    res("compose: database synapse owned by synapse_user",
        env.get("POSTGRES_DB") == "synapse" and env.get("POSTGRES_USER") == "synapse_user", str(env))
    args = str(env.get("POSTGRES_INITDB_ARGS", ""))
    res("compose: initdb UTF8 and C locale", "UTF8" in args and "--locale=C" in args, args)
    res("compose: postgres has a healthcheck", "test" in pg.get("healthcheck", {}), str(pg.get("healthcheck")))
    res("compose: pgsluice is built from the Dockerfile", ps.get("build") in (".", {"context": "."}), str(ps.get("build")))
    dep = ps.get("depends_on", {})
    res("compose: pgsluice waits for postgres healthy",
        isinstance(dep, dict) and dep.get("postgres", {}).get("condition") == "service_healthy", str(dep))
    res("compose: port 5480 published", any(str(p).endswith("5480:5480") for p in ps.get("ports", [])), str(ps.get("ports")))
    pw = str(ps.get("environment", {}).get("PGPASSWORD", ""))
    res("compose: PGPASSWORD from a variable", pw.startswith("${"), pw)
    cmd = ps.get("command", [])
    res("compose: command is serve --target ... --listen 0.0.0.0:5480",
        isinstance(cmd, list) and cmd[:1] == ["serve"] and "--target" in cmd and "0.0.0.0:5480" in cmd, str(cmd))
    print("OPTIONS compose " + " ".join(a for a in cmd if isinstance(a, str) and a.startswith("--")))

pod_labels, svc = None, None
for path in k8s_paths:
    name = path.rsplit("/", 1)[-1]
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
        res(name + " parses", True)
    except Exception as e:
        res(name + " parses", False, str(e))
        continue
    for d in docs:
        good = all(k in d for k in ("apiVersion", "kind", "metadata")) and "name" in d["metadata"]
        res("%s: %s has apiVersion, kind, metadata.name" % (name, d.get("kind")), good, str(list(d)))
        if d.get("kind") == "Job":
            spec = d["spec"]["template"]["spec"]
            pod_labels = d["spec"]["template"]["metadata"].get("labels", {})
            res("Job: restartPolicy Never", spec.get("restartPolicy") == "Never", str(spec.get("restartPolicy")))
            res("Job: backoffLimit 0 (a failed import is not retried)", d["spec"].get("backoffLimit") == 0, "")
            ctr = spec["containers"][0]
            args = ctr.get("args", [])
            res("Job: serve --once --clear-target", args[:1] == ["serve"] and "--once" in args and "--clear-target" in args, str(args))
            env = {e["name"]: e for e in ctr.get("env", [])}
            ref = env.get("PGPASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
            res("Job: PGPASSWORD from a Secret", "name" in ref and "key" in ref, str(env.get("PGPASSWORD")))
            res("Job: runs as non-root", spec.get("securityContext", {}).get("runAsNonRoot") is True, "")
            res("Job: no probes (a probe's connection would be the import)",
                not any(k in ctr for k in ("readinessProbe", "livenessProbe", "startupProbe")), "")
            print("OPTIONS k8s " + " ".join(a for a in args if a.startswith("--")))
        if d.get("kind") == "Service":
            svc = d
if svc is not None and pod_labels is not None:
    sel = svc["spec"].get("selector", {})
    res("Service selector matches the Job's pod labels", all(pod_labels.get(k) == v for k, v in sel.items()) and sel, str(sel))
    res("Service port 5480", any(p.get("port") == 5480 for p in svc["spec"].get("ports", [])), "")
else:
    res("a Job and a Service in deploy/k8s", False, "missing")
PY
	grep -E '^(ok|not ok) - ' "$T/yaml.out"
	grep -vE '^(ok|not ok) - |^OPTIONS ' "$T/yaml.out" | sed 's/^/    /'
	grep '^OPTIONS ' "$T/yaml.out" | sed 's/^OPTIONS //' >"$T/options.txt"
else
	skip "deploy yaml: PyYAML not installed (Debian: apt-get install python3-yaml): YAML NOT PARSED, minimal check only"
	echo "WARNING: python3-yaml missing; docker-compose.yml and deploy/k8s/*.yaml were not parsed" >&2
	for f in "$COMPOSE" "${K8S[@]}"; do
		n=${f#"$ROOT"/}
		check "deploy yaml (minimal): $n has no tab indentation" bash -c "! grep -qP '^\t' '$f'"
	done
	check "deploy yaml (minimal): compose has services postgres and pgsluice" \
		bash -c "grep -q '^services:' '$COMPOSE' && grep -q '^  postgres:' '$COMPOSE' && grep -q '^  pgsluice:' '$COMPOSE'"
	for f in "${K8S[@]}"; do
		check "deploy yaml (minimal): ${f#"$ROOT"/} has apiVersion and kind" \
			bash -c "grep -q '^apiVersion:' '$f' && grep -q '^kind:' '$f'"
	done
	: >"$T/options.txt"
fi

# ---- the options given to serve exist ------------------------------------------

sed -n 's/^ExecStart=[^ ]*pgsluice serve //p' "$UNIT" | tr ' ' '\n' | grep '^--' | tr '\n' ' ' |
	sed 's/^/systemd /' >>"$T/options.txt"
echo >>"$T/options.txt"
sed -n 's/^PGSLUICE_OPTIONS="\(.*\)"/\1/p' "$ENVEX" | sed 's/^/systemd-env /' >>"$T/options.txt"
# the Dockerfile's lines with their backslash continuations joined
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DOCKERFILE" >"$T/Dockerfile.joined"
sed -n 's/^CMD \[\(.*\)\]/\1/p' "$T/Dockerfile.joined" | tr -d '",' | tr ' ' '\n' | grep '^--' | tr '\n' ' ' |
	sed 's/^/Dockerfile /' >>"$T/options.txt"
echo >>"$T/options.txt"
if [ -x "$PGSLUICE" ] && "$PGSLUICE" serve --help >"$T/serve-help.txt" 2>&1; then
	while read -r where opts; do
		[ -n "$where" ] || continue
		missing=""
		for o in $opts; do
			grep -q -- "$o\b" "$T/serve-help.txt" || missing="$missing $o"
		done
		if [ -z "$missing" ]; then
			ok "deploy: $where's serve options are known to pgsluice serve ($opts)"
		else
			not_ok "deploy: $where gives serve options that pgsluice serve --help does not list:$missing"
		fi
	done <"$T/options.txt"
else
	skip "deploy: $PGSLUICE not built (or no serve): serve options not checked"
fi

# ---- systemd ----------------------------------------------------------------------------

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart's binary to exist: point it at the build
	mkdir -p "$T/systemd"
	bin=/bin/true
	[ -x "$PGSLUICE" ] && bin=$PGSLUICE
	sed "s#/usr/local/bin/pgsluice#$bin#g" "$UNIT" >"$T/systemd/pgsluice.service"
	systemd-analyze verify "$T/systemd/pgsluice.service" >"$T/verify.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$T/verify.out" ]; then
		ok "deploy systemd: systemd-analyze verify pgsluice.service, no message"
	else
		not_ok "deploy systemd: systemd-analyze verify: exit $rc"
		sed 's/^/    /' "$T/verify.out"
	fi
else
	skip "deploy systemd: systemd-analyze not found: the unit was NOT verified"
	echo "WARNING: systemd-analyze missing; deploy/systemd/pgsluice.service not verified" >&2
fi
for v in $(grep -o '\${\?PGSLUICE_[A-Z_]*' "$UNIT" | tr -d '${' | sort -u); do
	check "deploy systemd: $v is set in pgsluice.env.example" grep -q "^$v=" "$ENVEX"
done
check "deploy systemd: DynamicUser or User=, NoNewPrivileges, ProtectSystem=strict, PrivateTmp" \
	bash -c "grep -Eq '^(DynamicUser=yes|User=)' '$UNIT' && grep -q '^NoNewPrivileges=yes' '$UNIT' &&
		grep -q '^ProtectSystem=strict' '$UNIT' && grep -q '^PrivateTmp=yes' '$UNIT'"

# ---- Dockerfile -----------------------------------------------------------------------------

froms=$(grep -E '^FROM ' "$DOCKERFILE")
check "Dockerfile: first stage FROM debian:12 AS build" bash -c "head -n 1 <<<'$froms' | grep -Eq '^FROM debian:12 AS build\$'"
check "Dockerfile: last stage FROM debian:12-slim" bash -c "tail -n 1 <<<'$froms' | grep -Eq '^FROM debian:12-slim\$'"
# the runtime stage: from the last FROM to the end
awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$DOCKERFILE" >"$T/runtime-stage"
user=$(sed -n 's/^USER[[:space:]]\+//p' "$T/runtime-stage" | tail -n 1)
if [ -n "$user" ] && [[ ! $user =~ ^(root|0)(:|$) ]]; then
	ok "Dockerfile: runs as a non-root USER ($user)"
else
	not_ok "Dockerfile: runtime stage USER is \"$user\" (want a non-root user)"
fi
check "Dockerfile: runtime stage installs no -dev package" bash -c "! grep -Eq -- '-dev\b' '$T/runtime-stage'"
for lib in libevent-2.1-7 libevent-openssl-2.1-7 libpq5 libisal2 libzstd1 liblz4-1 libssl3 libjansson4; do
	check "Dockerfile: runtime stage installs $lib" grep -q -- "$lib" "$T/runtime-stage"
done
check "Dockerfile: binary copied from the build stage" grep -q '^COPY --from=build ' "$T/runtime-stage"
check "Dockerfile: EXPOSE 5480" grep -q '^EXPOSE 5480$' "$T/runtime-stage"
check "Dockerfile: ENTRYPOINT [\"pgsluice\"]" grep -q '^ENTRYPOINT \["pgsluice"\]$' "$T/runtime-stage"
check "Dockerfile: CMD serve ..." grep -q '^CMD \["serve",' "$T/runtime-stage"
# every file the build stage copies exists
for src in $(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$DOCKERFILE"); do
	check "Dockerfile: COPY source $src exists" test -e "$ROOT/$src"
done
if command -v hadolint >/dev/null 2>&1; then
	check "Dockerfile: hadolint" hadolint "$DOCKERFILE"
fi

# ---- safe defaults: no plaintext on a non-loopback address without a token --------

# every serve command line of the deployment files, one JSON list a line:
# "WHERE<TAB>[args...]"
python3 - "$T/Dockerfile.joined" "$COMPOSE" "$UNIT" "$ENVEX" "${K8S[@]}" >"$T/cmdlines" 2>"$T/cmdlines.err" <<'PY'
import json, re, shlex, sys
dockerfile, compose, unit, envex, k8s = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
out = lambda where, args: print(where + "\t" + json.dumps(args))
for line in open(dockerfile):
    if line.startswith("CMD "):
        out("Dockerfile CMD", json.loads(line[4:]))
env = {}
for line in open(envex):
    m = re.match(r'^([A-Z_]+)=(.*)$', line.strip())
    if m:
        env[m.group(1)] = " ".join(shlex.split(m.group(2)))
for line in open(unit):
    if line.startswith("ExecStart=") and "pgsluice serve" in line:
        cmd = re.sub(r'\$\{?([A-Z_]+)\}?', lambda m: env.get(m.group(1), "UNSET_" + m.group(1)), line[10:])
        out("pgsluice.service ExecStart", shlex.split(cmd)[1:])
try:
    import yaml
except ImportError:
    print("no yaml", file=sys.stderr)
    sys.exit(0)
c = yaml.safe_load(open(compose))
out("docker-compose.yml pgsluice command", c["services"]["pgsluice"].get("command", []))
print("PORTS\t" + json.dumps(c["services"]["pgsluice"].get("ports", [])))
for path in k8s:
    for d in yaml.safe_load_all(open(path)):
        if d and d.get("kind") == "Job":
            for ctr in d["spec"]["template"]["spec"]["containers"]:
                out(path.rsplit("/", 1)[-1] + " " + ctr["name"] + " args", ctr.get("args", []))
PY
[ -s "$T/cmdlines.err" ] && sed 's/^/    /' "$T/cmdlines.err"

# unsafe_line ARGS_JSON: prints why the command line is unsafe, nothing if not
unsafe_line() {
	python3 - "$1" <<'PY'
import json, sys
args = json.loads(sys.argv[1])
listens = [a.split("=", 1)[1] for a in args if a.startswith("--listen=")]
listens += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--listen"]
if not listens and args[:1] == ["serve"]:
    listens = ["127.0.0.1:5480"]          # serve's default
def loopback(addr):
    host = addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("::1", "localhost")
wide = [l for l in listens if not loopback(l)]
if wide and "--insecure-plaintext" in args and not any(a == "--token-file" or a.startswith("--token-file=") for a in args):
    print("listens on %s with --insecure-plaintext and no --token-file" % ", ".join(wide))
PY
}

# the checker itself: it flags the old defaults and passes the safe ones
check "deploy safe: the checker flags 0.0.0.0 plaintext without a token" \
	test -n "$(unsafe_line '["serve", "--listen", "0.0.0.0:5480", "--insecure-plaintext"]')"
check "deploy safe: the checker flags [::] plaintext without a token" \
	test -n "$(unsafe_line '["serve", "--target", "x", "--listen=[::]:5480", "--insecure-plaintext"]')"
check "deploy safe: the checker passes loopback, and a token" \
	test -z "$(unsafe_line '["serve", "--listen", "127.0.0.1:5480", "--insecure-plaintext"]')$(unsafe_line '["serve", "--listen", "0.0.0.0:5480", "--token-file", "t", "--insecure-plaintext"]')"

n=0
while IFS=$'\t' read -r where args; do
	[ "$where" = PORTS ] && continue
	n=$((n + 1))
	why=$(unsafe_line "$args")
	if [ -z "$why" ]; then
		ok "deploy safe: $where: no plaintext on a non-loopback address without a token"
	else
		not_ok "deploy safe: $where $why: $args"
	fi
	check "deploy safe: $where asks for a token (--token-file)" grep -q -- '"--token-file"' <<<"$args"
done <"$T/cmdlines"
if python3 -c 'import yaml' 2>/dev/null; then
	check "deploy safe: 4 serve command lines found (Dockerfile, compose, Job, unit): $n" [ "$n" -eq 4 ]
	ports=$(sed -n 's/^PORTS\t//p' "$T/cmdlines")
	check "deploy safe: compose publishes on 127.0.0.1 only ($ports)" \
		python3 -c 'import json,sys; p=json.loads(sys.argv[1]); sys.exit(not p or not all(str(x).startswith("127.0.0.1:") for x in p))' "$ports"
else
	check "deploy safe: 2 serve command lines found without PyYAML (Dockerfile, unit): $n" [ "$n" -eq 2 ]
fi
var=$(grep -o 'PGPASSWORD: \${[A-Z_]*' "$COMPOSE" | sed 's/.*{//')
check "deploy safe: README's 'docker compose up' line sets \$$var, the variable compose reads" \
	grep -Eq "^ +${var:-NONE}=[^ ]+ docker compose up" "$ROOT/README.md"
