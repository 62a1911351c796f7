#!/usr/bin/env bash
# The access report's verdict on one pull request: runs the access tool (built from the default
# branch) on the pull request's head commit and decides the check run's conclusion, title and
# text. .github/workflows/access-report.yml runs the default branch's copy of this file, in the
# default branch's checkout; the pull request's commits are only git objects there, which the
# tool reads with `git show`. bootstrap/ci/access_report_test.go runs it against a stub tool.
#
# Environment:
#   ACCESS    the access tool
#   DIR       the checkout the tool reads (-dir), holding HEAD_SHA's objects
#   STACK     the stack name (-stack)
#   BASE_REV  the default branch's commit
#   HEAD_SHA  the pull request's head commit
#   GITHUB_OUTPUT, GITHUB_STEP_SUMMARY (optional) as GitHub Actions sets them
# Outputs: code (the tool's exit status), conclusion (success, neutral or failure), title and
# report (markdown, at most LIMIT bytes). Exits 0 whenever it wrote them; the verdict is in
# conclusion.
set -euo pipefail

: "${ACCESS:?}" "${DIR:?}" "${STACK:?}" "${BASE_REV:?}" "${HEAD_SHA:?}" "${GITHUB_OUTPUT:?}"
# A check run's summary and a comment hold about 65535 characters; leave room for a header.
LIMIT=${LIMIT:-60000}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fence prints a run of tildes longer than any in file $1 (at least 3), so that text from the
# pull request cannot close the code block it is shown in.
fence() {
  local n
  n=$({ grep -oE '~+' "$1" || true; } | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  if [ "$n" -lt 3 ]; then n=2; fi
  printf '%*s' "$((n + 1))" '' | tr ' ' '~'
}

# fenced prints heading $1, then the last 20000 bytes of file $2 in a code block.
fenced() {
  local f
  tail -c 20000 "$2" | iconv -f UTF-8 -t UTF-8 -c >"$work/fenced"
  f=$(fence "$work/fenced")
  printf '### %s\n\n%s\n%s\n%s\n' "$1" "$f" "$(cat "$work/fenced")" "$f"
}

code=""
conclusion=failure
# What the pull request changes is what it adds to the commit it branched from: the diff GitHub
# shows as "Files changed". Against the tip of main, every commit merged since the branch point
# would count as a change of this pull request (and as a file beyond the stack config).
if ! merge_base=$(git -C "$DIR" merge-base "$BASE_REV" "$HEAD_SHA" 2>"$work/git.err"); then
  title="No merge base between the default branch and the pull request"
  fenced "$title" "$work/git.err" >"$work/report.md"
else
  report() {
    "$ACCESS" -stack "$STACK" -dir "$DIR" -base "$merge_base" -head "$HEAD_SHA" -format "$1" >"$work/out.$1" 2>"$work/err.$1"
  }
  set +e
  report markdown
  code=$?
  report json
  json_code=$?
  set -e
  case "$code" in
    0 | 3)
      # outsideConfig lists every changed path that is not a stack or caller file. A report
      # without that list cannot say it covers the whole change, so it fails.
      if [ "$json_code" != "$code" ]; then
        title="The access report's JSON run exited $json_code, its markdown run $code"
        fenced "$title" "$work/err.json" >"$work/report.md"
      elif ! outside=$(jq -r 'if (.outsideConfig | type) == "array" then .outsideConfig | length else error("the report has no outsideConfig list") end' "$work/out.json" 2>"$work/jq.err"); then
        title="The access report's JSON has no outsideConfig list"
        fenced "$title" "$work/jq.err" >"$work/report.md"
      else
        cp "$work/out.markdown" "$work/report.md"
        if [ "$outside" -gt 0 ]; then
          # Neutral, not success: the report covers the config only; the code owners' review
          # gates the rest.
          conclusion=neutral
          title="Config only: $outside changed file(s) beyond the stack config need the code owners' review"
        elif [ "$code" = 3 ]; then
          conclusion=success
          title="Access changes: review the grants"
        else
          conclusion=success
          title="No access change"
        fi
      fi
      ;;
    2)
      title="The stack config is invalid"
      fenced "$title" "$work/err.markdown" >"$work/report.md"
      ;;
    *)
      title="The access report failed (exit $code)"
      fenced "$title" "$work/err.markdown" >"$work/report.md"
      ;;
  esac
fi

# The whole report goes to the job summary (which holds 1 MiB); the outputs carry at most LIMIT
# bytes, cut at a character boundary.
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  head -c 1000000 "$work/report.md" >>"$GITHUB_STEP_SUMMARY"
fi
if [ "$(wc -c <"$work/report.md")" -gt "$LIMIT" ]; then
  {
    head -c "$LIMIT" "$work/report.md" | iconv -f UTF-8 -t UTF-8 -c
    printf '\n\n(cut at %s bytes: the whole report is in the job summary of the run)\n' "$LIMIT"
  } >"$work/short.md"
else
  cp "$work/report.md" "$work/short.md"
fi

delimiter="ACCESS_REPORT_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
{
  echo "code=$code"
  echo "conclusion=$conclusion"
  echo "title=$title"
  echo "report<<$delimiter"
  cat "$work/short.md"
  echo
  echo "$delimiter"
} >>"$GITHUB_OUTPUT"
printf 'access report: %s: %s\n' "$conclusion" "$title"
