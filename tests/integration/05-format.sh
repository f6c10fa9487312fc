#!/usr/bin/env bash
# The C sources keep the checked-in .clang-format: one line per file that
# differs (fix with: clang-format -i FILE).
. "$(dirname "$0")/lib.sh"

if ! command -v clang-format >/dev/null 2>&1; then
	skip clang-format "clang-format is not installed (scripts/setup.sh installs it)"
	exit 0
fi
cd "$ROOT"
bad=
n=0
for f in $(git ls-files 'orchestrator/*.c' 'orchestrator/*.h' 'tests/unit/*.c' 'tests/unit/*.h' 2>/dev/null ||
	find orchestrator tests/unit -name '*.[ch]'); do
	n=$((n + 1))
	clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
echo "   $n files checked"
if [ -z "$bad" ] && [ "$n" -gt 0 ]; then
	pass clang-format
else
	fail "clang-format" "differ from .clang-format:$bad"
fi
