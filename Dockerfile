# Dockerfile - pgsluice in a container.
#
# Two stages: build on debian:12 with the -dev packages, run on
# debian:12-slim with only the runtime libraries (libevent, libevent's
# OpenSSL glue, libpq, ISA-L, OpenSSL), as the non-root user pgsluice
# (uid 5480, numeric so that Kubernetes' runAsNonRoot can check it).
#
#	docker build -t pgsluice .
#	docker run --rm -p 5480:5480 -e PGHOST=db.example -e PGPASSWORD=... pgsluice
#
# The default command serves imports into the database "synapse" as
# synapse_user, on all interfaces without TLS; PGHOST, PGPORT, PGPASSWORD
# and the other libpq variables say where and how.  Give your own command
# for anything else (TLS, --clear-target, --once):
#
#	docker run ... pgsluice serve --target "host=db dbname=synapse user=synapse_user" \
#	    --listen 0.0.0.0:5480 --tls-cert /run/secrets/cert.pem --tls-key /run/secrets/key.pem
#
# docker-compose.yml wires it to a postgres:17-alpine like EES's.

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc libc6-dev make pkg-config libevent-dev libpq-dev libisal-dev libssl-dev \
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
        libevent-2.1-7 libevent-openssl-2.1-7 libpq5 libisal2 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 5480 pgsluice \
 && useradd --system --uid 5480 --gid 5480 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pgsluice
COPY --from=build /src/pgsluice /usr/local/bin/pgsluice
USER 5480:5480
EXPOSE 5480
ENTRYPOINT ["pgsluice"]
CMD ["serve", "--target", "dbname=synapse user=synapse_user", "--listen", "0.0.0.0:5480", "--insecure-plaintext"]
