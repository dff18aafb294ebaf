#!/usr/bin/env bash
# Lints every Swift file with swift-format and .swift-format (today's style: 4-space indents,
# 120 columns, the rules in the file). Exit 1 if any finding is left.
#
# Enforced: every rule of .swift-format (naming, imports, a doc comment on every public
# declaration, literals, ...) and the whitespace findings that have one right answer
# (trailing whitespace, tabs).
# Not enforced: the pretty-printer's layout findings (AddLines, RemoveLine, Indentation,
# Spacing, LineLength, TrailingComma). Its layout cannot express the continuation lines of
# today's code (arguments aligned under the opening parenthesis, aligned end-of-line
# comments); `swift format -i` on a file you own shows them, but is not required.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(Package.swift Sources Tests Benchmarks)
layout='\[(AddLines|RemoveLine|Indentation|Spacing|LineLength|TrailingComma)\]'

if ! out=$(swift format lint --configuration .swift-format --recursive "${paths[@]}" 2>&1); then
    # Findings are warnings (exit 0); a non-zero exit without findings is a failure to run.
    if ! grep -qE ': (warning|error): \[' <<<"$out"; then
        echo "swift-format-lint: swift format lint failed:" >&2
        echo "$out" >&2
        exit 1
    fi
fi
left=$(grep -vE "$layout" <<<"$out" || true)
if [ -n "$left" ]; then
    echo "$left"
    echo "swift-format-lint: $(grep -c . <<<"$left") finding(s) (see .swift-format, CONTRIBUTING.md)" >&2
    exit 1
fi
files=$(find "${paths[@]}" -name '*.swift' -not -path '*/.build*' | wc -l)
echo "swift-format-lint: $files Swift files clean (layout findings not enforced)"
