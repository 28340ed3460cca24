#!/usr/bin/env bash
# Fails when a tracked C++ or proto file is not clang-formatted (.clang-format at the root).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' '*.proto' 2>/dev/null || find . -path ./build -prune -o \( -name '*.cc' -o -name '*.h' -o -name '*.proto' \) -print)
[[ -n "$files" ]] || exit 0
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
echo "check-format: $(echo "$files" | wc -w) files formatted"
