# pgregress.sh - PostgreSQL's own regression database, made at test time
# from the Debian source package of the installed server, for the tests
# that need the hardest real input a dump importer can get.  Sourced by
# scenarios after tests/lib/common.sh.
#
#	pgregress_dump    sets REGRESS_DUMP (pg_dump of the "regression"
#	                  database), REGRESS_DUMP_NOBLOBS (the same without
#	                  large objects, pg_dump -B) and REGRESS_GLOBALS (its
#	                  roles), building them when the cache does not hold them
#
# How: `apt-get source --download-only postgresql-15` through a private apt
# configuration (deb-src lines for the suites and mirrors the system's
# apt already uses; the system's own lists are not touched), unpack
# src/test/regress, build regress.so against postgresql-server-dev-15,
# run pg_regress's parallel schedule against a scratch cluster (about a
# minute on 2 cores; some tests report differences, which do not matter
# here: the database they leave is what is wanted), and pg_dump it.
# Everything lives under /var/tmp/pgsluice-pgregress-<version>/
# (PGSLUICE_PGREGRESS_CACHE), readable by the server's user; the dump is
# made once per server version.  Logs go to build.log there, which any
# failure names.
PGREGRESS_VERSION=$("$PGBIN/postgres" -V | sed 's/.* \([0-9][0-9.]*\).*/\1/')
PGREGRESS_MAJOR=${PGREGRESS_VERSION%%.*}
# outside the checkout: the server (user postgres) must read the suite's
# files and regress.so, and a clone in root's home (mode 700) is closed to it
PGREGRESS_CACHE=${PGSLUICE_PGREGRESS_CACHE:-/var/tmp/pgsluice-pgregress-$PGREGRESS_VERSION}

_pgregress_fail() {
	echo "# pgregress: $* (log: $PGREGRESS_CACHE/build.log)" >&2
	tail -15 "$PGREGRESS_CACHE/build.log" 2>/dev/null | sed 's/^/#   /' >&2
	return 1
}

# the regression suite's source, with regress.so built: sets PGREGRESS_SRC
_pgregress_source() {
	local apt src debsrc pkg
	PGREGRESS_SRC=$PGREGRESS_CACHE/src/test/regress
	[ -f "$PGREGRESS_SRC/regress.so" ] && return 0
	apt=$PGREGRESS_CACHE/apt
	mkdir -p "$apt/parts" "$apt/lists/partial" "$PGREGRESS_CACHE/dl"
	# deb-src twins of the system's own deb sources (one-line and deb822 forms)
	sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		2>/dev/null >"$apt/src.list"
	for src in /etc/apt/sources.list.d/*.sources; do
		[ -f "$src" ] || continue
		sed -n '/^Types:/s/.*/Types: deb-src/p; /^\(URIs\|Suites\|Components\|Signed-By\):/p; /^$/p' "$src"
		echo
	done >"$apt/parts/src.sources"
	local opts=(-o "Dir::Etc::SourceList=$apt/src.list" -o "Dir::Etc::SourceParts=$apt/parts"
		-o "Dir::State::Lists=$apt/lists" -o "APT::Sandbox::User=root")
	apt-get "${opts[@]}" update >>"$PGREGRESS_CACHE/build.log" 2>&1 ||
		{ _pgregress_fail "apt-get update for the deb-src lists failed"; return 1; }
	# the newest source version a mirror serves (a security mirror may list
	# a version it does not serve); the suite's SQL differs little between
	# minor versions
	local v got=""
	for v in $(apt-cache "${opts[@]}" showsrc "postgresql-$PGREGRESS_MAJOR" 2>/dev/null |
		sed -n 's/^Version: //p' | sort -rV | uniq); do
		if (cd "$PGREGRESS_CACHE/dl" && apt-get "${opts[@]}" source --download-only \
			"postgresql-$PGREGRESS_MAJOR=$v") >>"$PGREGRESS_CACHE/build.log" 2>&1; then
			got=$v
			break
		fi
	done
	[ -n "$got" ] || { _pgregress_fail "could not download the source package postgresql-$PGREGRESS_MAJOR"; return 1; }
	pkg=$(ls "$PGREGRESS_CACHE"/dl/postgresql-"$PGREGRESS_MAJOR"_*.orig.tar.* 2>/dev/null | head -1)
	[ -n "$pkg" ] || { _pgregress_fail "no orig tarball in the source package"; return 1; }
	tar -xf "$pkg" -C "$PGREGRESS_CACHE" --strip-components=1 --wildcards \
		'*/src/test/regress/*' '*/contrib/spi/*' >>"$PGREGRESS_CACHE/build.log" 2>&1 ||
		{ _pgregress_fail "could not unpack $pkg"; return 1; }
	debsrc=$(ls "$PGREGRESS_CACHE"/dl/*.debian.tar.* 2>/dev/null | head -1)
	[ -n "$debsrc" ] && echo "# pgregress: $(basename "$pkg") with $(basename "$debsrc")" >>"$PGREGRESS_CACHE/build.log"
	[ -d "/usr/include/postgresql/$PGREGRESS_MAJOR/server" ] ||
		{ _pgregress_fail "postgresql-server-dev-$PGREGRESS_MAJOR is not installed (scripts/deps.sh installs it)"; return 1; }
	cc -O2 -fPIC -shared -I"/usr/include/postgresql/$PGREGRESS_MAJOR/server" \
		-I/usr/include/postgresql/internal -o "$PGREGRESS_SRC/regress.so" \
		"$PGREGRESS_SRC/regress.c" >>"$PGREGRESS_CACHE/build.log" 2>&1 ||
		{ _pgregress_fail "could not build regress.so"; return 1; }
	# the triggers test loads contrib/spi's autoinc and refint from the same folder
	for m in autoinc refint; do
		cc -O2 -fPIC -shared -I"/usr/include/postgresql/$PGREGRESS_MAJOR/server" \
			-I/usr/include/postgresql/internal -o "$PGREGRESS_SRC/$m.so" \
			"$PGREGRESS_CACHE/contrib/spi/$m.c" >>"$PGREGRESS_CACHE/build.log" 2>&1 ||
			{ _pgregress_fail "could not build $m.so"; return 1; }
	done
	chmod -R a+rX "$PGREGRESS_CACHE"
}

pgregress_dump() {
	local port regress
	REGRESS_DUMP=$PGREGRESS_CACHE/regression.sql
	REGRESS_GLOBALS=$PGREGRESS_CACHE/globals.sql
	REGRESS_DUMP_NOBLOBS=$PGREGRESS_CACHE/regression-noblobs.sql
	PGREGRESS_SRC=$PGREGRESS_CACHE/src/test/regress
	# the dump names regress.so by its path: a cache from another checkout is made again
	_pgregress_cached() {
		[ -s "$REGRESS_DUMP" ] && [ -s "$REGRESS_GLOBALS" ] && [ -s "$REGRESS_DUMP_NOBLOBS" ] &&
			grep -q -F "$PGREGRESS_SRC/regress.so" "$REGRESS_DUMP"
	}
	_pgregress_cached && return 0
	mkdir -p "$PGREGRESS_CACHE"
	(
		# one builder at a time; the second waits and finds the cache
		flock -w 600 9 || exit 1
		_pgregress_cached && exit 0
		rm -f "$PGREGRESS_SRC/regress.so"
		_pgregress_source || exit 1
		pg_start regress_build "max_prepared_transactions = 2" || exit 1
		trap 'pg_stop regress_build' EXIT
		port=$(pg_port regress_build)
		regress=$PGBIN/../lib/pgxs/src/test/regress/pg_regress
		[ -x "$regress" ] || regress=/usr/lib/postgresql/$PGREGRESS_MAJOR/lib/pgxs/src/test/regress/pg_regress
		mkdir -p "$T/regress-out" && chmod 777 "$T/regress-out"
		# the differences some tests report do not matter: the database is what is wanted
		(cd "$PGREGRESS_SRC" && timeout 600 runuser -u postgres -- "$regress" --inputdir=. \
			--outputdir="$T/regress-out" --bindir="$PGBIN" --dlpath=. --host=127.0.0.1 \
			--port="$port" --user=postgres --schedule=parallel_schedule \
			--max-concurrent-tests=20) >>"$PGREGRESS_CACHE/build.log" 2>&1
		[ "$(psql_as regress_build regression -At -c "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace" 2>/dev/null || echo 0)" -gt 100 ] ||
			{ _pgregress_fail "pg_regress left no regression database (or an almost empty one)"; exit 1; }
		pg_dump -h 127.0.0.1 -p "$port" -U postgres regression >"$REGRESS_DUMP.tmp" 2>>"$PGREGRESS_CACHE/build.log" &&
			pg_dump -h 127.0.0.1 -p "$port" -U postgres -B regression >"$REGRESS_DUMP_NOBLOBS" 2>>"$PGREGRESS_CACHE/build.log" &&
			pg_dumpall -h 127.0.0.1 -p "$port" -U postgres --globals-only >"$REGRESS_GLOBALS.tmp" 2>>"$PGREGRESS_CACHE/build.log" ||
			{ _pgregress_fail "pg_dump of the regression database failed"; exit 1; }
		mv "$REGRESS_GLOBALS.tmp" "$REGRESS_GLOBALS"
		mv "$REGRESS_DUMP.tmp" "$REGRESS_DUMP"
	) 9>"$PGREGRESS_CACHE/.lock"
}

pgregress_scripts() {
	PGREGRESS_SRC=$PGREGRESS_CACHE/src/test/regress
	PGREGRESS_MODULES=$PGREGRESS_CACHE/modules
	[ -f "$PGREGRESS_SRC/regress.so" ] && [ -f "$PGREGRESS_MODULES/.done" ] && return 0
	mkdir -p "$PGREGRESS_CACHE"
	(
		flock -w 600 9 || exit 1
		_pgregress_source || exit 1
		[ -f "$PGREGRESS_MODULES/.done" ] && exit 0
		local pkg
		pkg=$(ls "$PGREGRESS_CACHE"/dl/postgresql-"$PGREGRESS_MAJOR"_*.orig.tar.* 2>/dev/null | head -1)
		rm -rf "$PGREGRESS_MODULES" && mkdir -p "$PGREGRESS_MODULES" &&
			tar -xf "$pkg" -C "$PGREGRESS_MODULES" --strip-components=1 --wildcards \
				'*/src/test/modules/*/sql/*.sql' '*/src/pl/*/sql/*.sql' >>"$PGREGRESS_CACHE/build.log" 2>&1 ||
			{ _pgregress_fail "could not unpack the modules' and languages' scripts from $pkg"; exit 1; }
		chmod -R a+rX "$PGREGRESS_MODULES"
		touch "$PGREGRESS_MODULES/.done"
	) 9>"$PGREGRESS_CACHE/.lock"
}
