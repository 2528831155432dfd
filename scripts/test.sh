#!/usr/bin/env bash
# test.sh: every check of the project, the same on a laptop and in CI.
# Installs what it needs on a fresh Debian machine (redis-server, Node for the
# spec linter, Prometheus for promtool and the scrape test, Chromium for the
# Swagger UI test) when it runs as root; otherwise says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

need_pkg() { # need_pkg COMMAND DEBIAN_PACKAGES...
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing $* (missing $cmd)"
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing $cmd: install the Debian packages: $*" >&2; exit 1
  fi
}
need_pkg redis-server redis-server
need_pkg redis-cli redis-tools
need_pkg npx nodejs npm
need_pkg promtool prometheus
need_pkg chromium chromium   # cmd/gateway's browser test drives /docs headless
need_pkg curl curl           # cmd/gateway runs the README's "Try it" steps

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
go tool staticcheck ./...

step "generated code is up to date (go generate ./...)"
gen_files="internal/api/api.gen.go client/client.gen.go"
before=$(cat $gen_files | sha256sum)
go generate ./...
after=$(cat $gen_files | sha256sum)
if [ "$before" != "$after" ]; then
  echo "generated code drifted from api/openapi.yaml: run 'go generate ./...' and commit the result"; exit 1
fi

step "go.mod and go.sum are tidy"
tmp=$(mktemp -d); cp go.mod go.sum "$tmp/"
go mod tidy
if ! cmp -s go.mod "$tmp/go.mod" || ! cmp -s go.sum "$tmp/go.sum"; then
  diff -u "$tmp/go.mod" go.mod || true
  cp "$tmp/go.mod" "$tmp/go.sum" .
  echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result"; exit 1
fi

step "OpenAPI lint (redocly)"
npx --yes @redocly/cli@2.77.0 lint --format=stylish api/openapi.yaml

step "Prometheus config, rules and their unit tests (promtool)"
promtool check config deploy/prometheus.yml
promtool test rules deploy/alerts_test.yml

step "build (the Dockerfile's build command)"
./scripts/build.sh "$(mktemp -d)"

step "go test -race ./..."
go test -race -count=1 -timeout 12m ./...

step "fuzz targets (${FUZZTIME:-1000x} each; one longer: go test -run='^\$' -fuzz='^FuzzX\$' -fuzztime=10m -parallel=1 ./pkg)"
# A count, not a duration: go1.26's fuzzing coordinator can fail a target
# with "context deadline exceeded" when a duration ends during an execution
# (go.dev/issue/75804, fixed in go1.27); a count has no deadline.
# Every func Fuzz* of every package, found in the sources so that a new
# target is fuzzed without being listed here. Their seeds and corpus
# (testdata/fuzz/) already ran as tests above.
for dir in $(git grep -l '^func Fuzz' -- '*_test.go' | xargs -n1 dirname | sort -u); do
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -c6- | sort -u); do
    echo "-- $dir $target"
    go test -run='^$' -fuzz="^$target\$" -fuzztime="${FUZZTIME:-1000x}" -fuzzminimizetime=1s -parallel=1 "./$dir"
  done
done
