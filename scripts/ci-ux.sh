#!/usr/bin/env bash
# The user-facing surface's checks (issue 12), run by CI after `swift test`:
# DocC with no warnings, every C snippet of the docs, completion scripts, the man page.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== DocC: the PageWalk, PageWalkImport, PageWalkConformance and PageWalkImage catalogs build with no warnings"
swift package generate-documentation --target PageWalk --target PageWalkImport --target PageWalkConformance \
    --target PageWalkImage \
    --warnings-as-errors 2>&1 | tee .build/docc.log | tail -3
if grep -E "^(warning|error):" .build/docc.log; then
    echo "DocC reported the warnings above"; exit 1
fi

echo "== C snippets of README.md, docs/ and the DocC catalog: -std=c11 -Wall -Wextra -Werror"
bash scripts/check-c-snippets.sh

echo "== shell completions"
swift build --product pagewalk
for shell in bash zsh fish; do
    .build/debug/pagewalk --generate-completion-script "$shell" > ".build/pagewalk.$shell"
    grep -q "pagemap" ".build/pagewalk.$shell"
done
bash -n .build/pagewalk.bash
echo "bash, zsh and fish completion scripts generated (bash -n: syntax ok)"

echo "== man page (swift-argument-parser's GenerateManual plugin)"
swift package generate-manual --configuration debug 2>&1 | tail -1
man=.build/plugins/GenerateManual/outputs/pagewalk/pagewalk.1
grep -q "json" "$man" && grep -q "map" "$man"
echo "$man: $(wc -l < "$man") lines"
