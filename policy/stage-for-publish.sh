#!/usr/bin/env bash
# Copies the policy pack into an empty directory as a Go module of its own, ready for
# `pulumi policy publish`. Publishing uploads only the pack's directory, and the consumer's CLI
# runs `go mod tidy` and `go build` in it; here the pack lives inside the repository's module,
# whose go.mod and go.sum are one level up, so the staged copy gets them, renamed. The packages of
# the repository outside policy/ that the pack or its tests import (internal/gcp/roles, the role
# table; internal/markdown, which the README's test reads it with) travel with it in _shared/, a
# module of the repository's name holding only them, which go.mod replaces: `go mod tidy` resolves
# the tests' imports too.
set -euo pipefail

out="${1:?usage: policy/stage-for-publish.sh <empty directory>}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

mkdir -p "$out"
if [ -n "$(ls -A "$out")" ]; then
  echo "stage-for-publish: $out is not empty" >&2
  exit 1
fi
module="$(cd "$root" && go list -m)"
shared="$(cd "$root" && go list -deps -test -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./policy/... |
  sed 's/ .*//' | grep "^$module/" | grep -v "^$module/policy\(/\|\.test\|\$\)" | sort -u || true)"

cp -R "$here"/. "$out"/
rm -f "$out/stage-for-publish.sh"
cp "$root/go.mod" "$root/go.sum" "$out"/
goversion="$(cd "$root" && go mod edit -json | sed -n 's/^[[:space:]]*"Go": "\(.*\)",*$/\1/p')"
for pkg in $shared; do
  rel="${pkg#"$module"/}"
  mkdir -p "$out/_shared/$rel"
  # The package's sources and embedded files; its tests and their data stay behind.
  find "$root/$rel" -maxdepth 1 -type f ! -name '*_test.go' -exec cp {} "$out/_shared/$rel"/ \;
done

cd "$out"
# The import path of policy/rules stays what it is in the repository.
go mod edit -module="$module/policy"
if [ -n "$shared" ]; then
  printf 'module %s\n\ngo %s\n' "$module" "$goversion" > _shared/go.mod
  go mod edit -require="$module@v0.0.0" -replace="$module=./_shared"
fi
# What the consumer's CLI will do, minus the network: the pack must build from this directory alone.
go build -o /dev/null .
echo "staged in $out; now: cd $out && pulumi policy publish <org>"
