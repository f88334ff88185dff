#!/usr/bin/env bash
# Fails when the committed mdatagen output differs from what metadata.yaml
# generates now: regenerates, compares checksums, and restores nothing (the
# regenerated files are what should be committed).
set -euo pipefail
cd "$(dirname "$0")/.."
files() { { find exemplarprocessor -name 'generated_*' -o -name documentation.md -path '*exemplarprocessor/*'; echo exemplarprocessor/README.md; } | sort; }
before=$(files | xargs sha256sum)
go generate ./exemplarprocessor/...
after=$(files | xargs sha256sum)
if [ "$before" != "$after" ]; then
	echo "generated files are stale: run 'make generate' and commit the result" >&2
	diff <(echo "$before") <(echo "$after") >&2 || true
	exit 1
fi
echo "generated files are up to date"
