#!/usr/bin/env bash
# Runs every module's tests with the race detector. Installs what the tests
# need first: redis-server and redis-cli (Debian's redis-server package) when
# missing. The Redis tests start their own servers on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "test.sh: installing redis-server" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi

# PostgreSQL server binaries (Debian's postgresql package) for
# adapters/postgres and the quickstart's DATABASE_URL tests; internal/pgtest
# runs initdb and postgres from /usr/lib/postgresql/*/bin itself.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "test.sh: installing postgresql" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi

# Chromium (Debian's chromium package) for inspector/browsertest, which drives
# the inspector's page in a headless browser.
if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing chromium" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

status=0
for mod in $(find . -name go.mod -not -path './.git/*' -exec dirname {} \; | sort); do
  echo "== module $mod"
  (cd "$mod" && go vet ./... && go test -race -count=1 -timeout 20m ./...) || status=1
done
# Allocation counts are asserted only without -race (its sync.Pool drops
# items at random): run those tests once more in a normal build.
echo "== allocation tests without -race"
go test -count=1 -run 'Alloc' ./verify/ ./internal/jsonscan/ ./receiver/ || status=1
(cd bench && go test -count=1 -run 'Alloc' ./...) || status=1
exit $status
