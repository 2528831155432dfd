# syntax=docker/dockerfile:1
# Build: docker build -t legalgate .
# The build step is scripts/build.sh, the same command CI runs. Base images are
# pinned (an exact Go release; distroless by digest): bump them in a commit.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN ./scripts/build.sh /out

# Static binaries on a distroless base: no shell, runs as a non-root user.
# No secrets are baked in: credentials come from the environment or mounted
# files referenced by the config (${ENV_VAR} or file:/path).
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/gateway /out/upstream-sim /usr/local/bin/
USER nonroot:nonroot
# 8080: the API; 8081: the admin listener (/metrics, pprof when on), for the
# monitoring network only.
EXPOSE 8080 8081
# The image has no shell or curl: the binary checks itself. -probe GETs the URL
# and exits 0 on a 2xx answer, 1 otherwise; /readyz is 503 while Redis is away.
# An image run with another entrypoint (upstream-sim) needs its own healthcheck.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/gateway", "-probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["-config", "/etc/legalgate/gateway.yaml", "-addr", "0.0.0.0:8080", "-admin-addr", "0.0.0.0:8081"]
