# The documentation stays true to the code: the variables table of
# docs/configuration.md is what scripts/vars-table.py generates from
# kube/variables.yaml (regenerate: see that page); the README stays a guide
# of at most 400 lines; every relative link of README.md, docs/ and
# tests/README.md points at a file that exists.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$PY" scripts/vars-table.py . >"$TMP/table.md"
if grep -qxFf "$TMP/table.md" docs/configuration.md && [ "$(grep -cxFf "$TMP/table.md" docs/configuration.md)" -eq "$(wc -l <"$TMP/table.md")" ] &&
	[ "$(grep -c '^| `' docs/configuration.md)" -eq "$(grep -c '^| `' "$TMP/table.md")" ]; then
	pass docs-variables-table-current
else
	fail docs-variables-table-current "docs/configuration.md differs from scripts/vars-table.py's output: replace its table with '$PY scripts/vars-table.py .'"
fi

n=$(wc -l <README.md)
[ "$n" -le 400 ] && pass readme-at-most-400-lines || fail readme-at-most-400-lines "$n lines"

bad=
for f in README.md docs/*.md tests/README.md; do
	dir=$(dirname "$f")
	for link in $(grep -o '](\([^)#:]*\)[)#]' "$f" | sed 's/^](//; s/[)#]$//' | sort -u); do
		[ -e "$dir/$link" ] || bad+=" $f:$link"
	done
done
[ -z "$bad" ] && pass docs-links-resolve || fail docs-links-resolve "$bad"
