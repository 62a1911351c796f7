#!/usr/bin/env bash
# Copies the policy pack into an empty directory as a Go module of its own, ready for
# `pulumi policy publish`. Publishing uploads only the pack's directory, and the consumer's CLI
# runs `go mod tidy` and `go build` in it; here the pack lives inside the repository's module,
# whose go.mod and go.sum are one level up, so the staged copy gets them, renamed.
set -euo pipefail

out="${1:?usage: policy/stage-for-publish.sh <empty directory>}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

mkdir -p "$out"
if [ -n "$(ls -A "$out")" ]; then
  echo "stage-for-publish: $out is not empty" >&2
  exit 1
fi
cp -R "$here"/. "$out"/
rm -f "$out/stage-for-publish.sh"
cp "$root/go.mod" "$root/go.sum" "$out"/

cd "$out"
# The import path of policy/rules stays what it is in the repository.
go mod edit -module=github.com/platform/private-run-api/policy
# What the consumer's CLI will do, minus the network: the pack must build from this directory alone.
go build -o /dev/null .
echo "staged in $out; now: cd $out && pulumi policy publish <org>"
