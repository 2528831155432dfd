#!/usr/bin/env bash
# build.sh OUT_DIR: the one way the gateway and simulator binaries are built,
# used by the Dockerfile and by CI (so CI proves the image's build command).
set -euo pipefail
out=${1:-bin}
mkdir -p "$out"
export CGO_ENABLED=0
go build -trimpath -ldflags="-s -w" -o "$out/gateway" ./cmd/gateway
go build -trimpath -ldflags="-s -w" -o "$out/upstream-sim" ./cmd/upstream-sim
