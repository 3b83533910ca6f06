# Dockerfile - pgsluice in a container.
#
# Two stages: build on debian:12 with the -dev packages, run on
# debian:12-slim with only the runtime libraries (libevent, libevent's
# OpenSSL glue, libpq, ISA-L, OpenSSL), as the non-root user pgsluice
# (uid 5480, numeric so that Kubernetes' runAsNonRoot can check it).
#
# The default command serves imports into the database "synapse" as
# synapse_user on all of the container's interfaces, so it insists on TLS
# and a token, both read from /run/secrets (a folder the container cannot
# start without): pgsluice.crt, pgsluice.key and token, owned by uid 5480
# and mode 600 (the token file is refused otherwise).  PGHOST, PGPORT,
# PGPASSWORD and the other libpq variables say where the database is:
#
#	docker build -t pgsluice .
#	pgsluice gen-cert --host ees.example.org --out secrets   # or any cert and key
#	openssl rand -hex 32 > secrets/token
#	sudo chown -R 5480:5480 secrets && sudo chmod 600 secrets/*
#	docker run --rm -p 5480:5480 -v "$PWD/secrets:/run/secrets:ro" \
#	    -e PGHOST=db.example -e PGPASSWORD=... pgsluice
#	# on the sending host, with copies of pgsluice.crt and token:
#	pg_dump -O synapse | gzip | pgsluice send --ca pgsluice.crt --token-file token ees.example.org:5480
#
# Give your own command for anything else (--clear-target, --once, other
# files); without TLS it must then listen on 127.0.0.1 or say
# --insecure-plaintext, and should keep the token.
#
# docker-compose.yml wires it to a postgres:17-alpine like EES's.

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc libc6-dev make pkg-config libevent-dev libpq-dev libisal-dev libzstd-dev liblz4-dev libssl-dev libjansson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY sqlrewrite/ sqlrewrite/
COPY proxy/ proxy/
# `make pgsluice`, not `make`: the packages are installed above, so the
# scripts/deps.sh check is not needed here
RUN make pgsluice CFLAGS="-O2 -g" \
 && strip pgsluice \
 && ./pgsluice --version

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-openssl-2.1-7 libpq5 libisal2 libzstd1 liblz4-1 libssl3 libjansson4 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 5480 pgsluice \
 && useradd --system --uid 5480 --gid 5480 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pgsluice
COPY --from=build /src/pgsluice /usr/local/bin/pgsluice
USER 5480:5480
EXPOSE 5480
ENTRYPOINT ["pgsluice"]
CMD ["serve", "--target", "dbname=synapse user=synapse_user", "--listen", "0.0.0.0:5480", \
     "--tls-cert", "/run/secrets/pgsluice.crt", "--tls-key", "/run/secrets/pgsluice.key", \
     "--token-file", "/run/secrets/token"]
