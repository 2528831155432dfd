# syntax=docker/dockerfile:1
# Build: docker build -t legalgate .
# The build step is scripts/build.sh, the same command CI runs.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN ./scripts/build.sh /out

# Static binaries on a distroless base: no shell, runs as a non-root user.
# No secrets are baked in: credentials come from the environment or mounted
# files referenced by the config (${ENV_VAR} or file:/path).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /out/upstream-sim /usr/local/bin/
USER nonroot:nonroot
# 8080: the API; 8081: the admin listener (/metrics, pprof when on), for the
# monitoring network only.
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["-config", "/etc/legalgate/gateway.yaml", "-addr", "0.0.0.0:8080", "-admin-addr", "0.0.0.0:8081"]
