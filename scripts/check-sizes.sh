#!/usr/bin/env bash
# `make lint`: no Swift file in Sources is longer than 450 lines or declares more than 8 types
# (struct, class, enum, actor, protocol; extensions do not count). Names every file over.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r -d '' file; do
    lines=$(wc -l <"$file")
    types=$(grep -cE '^\s*((public|internal|private|fileprivate|package|final|indirect|nonisolated|@[A-Za-z]+)\s+)*(struct|class|enum|actor|protocol)\s+[A-Z]' "$file" || true)
    if [ "$lines" -gt 450 ]; then
        echo "$file: $lines lines (at most 450: split it by concern)" >&2
        status=1
    fi
    if [ "$types" -gt 8 ]; then
        echo "$file: $types types (at most 8: move some to a file of their own)" >&2
        status=1
    fi
done < <(find Sources -name '*.swift' -print0)
exit $status
