# The one caching skeleton of the locally built images (no registry is
# reachable here): the stand-ins, Caddy, pebble, the systemd trial image and
# the demo images.  Source it from a build script:
#
#   . "$here/image-cache.sh"
#   hash=$(image_hash FILE... [-- TEXT...])
#   image_current "$image" "$hash" "${1:-}" && exit 0    # locked, up to date
#   ...build a root directory $dir...
#   image_import "$dir" "$image" "$hash" [--change ...]
#
# An image is current while its label aegis.build.hash equals the hash of
# what it is built from (the build script itself included).  Builds of one
# image are serialized by a lock, so concurrent runs never tag it twice; the
# lock is held until the build script exits.

# image_hash FILE... [-- TEXT...]: 16 hex digits over the files' contents and
# the texts.
image_hash() {
	local files=() texts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	texts=("$@")
	{
		cat "${files[@]}"
		printf '%s\n' "${texts[@]}"
	} | sha256sum | cut -c1-16
}

# image_label IMAGE: the image's aegis.build.hash label, empty if absent.
image_label() {
	podman image inspect --format '{{index .Labels "aegis.build.hash"}}' "$1" 2>/dev/null || true
}

# image_current IMAGE HASH [--force]: take IMAGE's build lock (fd 8, held
# until the caller exits); true when IMAGE is current and --force not given.
# Every build is also tagged NAME:h-HASH, so checkouts of different versions
# sharing one store (the tests' Podman) only re-tag, never rebuild, when they
# take turns: IMAGE is made current from that tag when it exists.
image_current() {
	local lockname alt
	lockname=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_')
	exec 8>"${XDG_RUNTIME_DIR:-/tmp}/aegis-build-$lockname.lock"
	flock 8
	[ "${3:-}" != --force ] || return 1
	[ "$(image_label "$1")" = "$2" ] && return 0
	alt=$(image_hash_tag "$1" "$2")
	[ "$(image_label "$alt")" = "$2" ] && podman tag "$alt" "$1" >/dev/null 2>&1
}

# image_hash_tag IMAGE HASH: the name under which the build of HASH is kept.
image_hash_tag() {
	local name=${1%:*}
	[ "$name" != "$1" ] || name=$1
	echo "$name:h-$2"
}

# image_import DIR IMAGE HASH [--change ...]: import DIR as IMAGE, labelled
# with HASH (and tagged NAME:h-HASH).
image_import() {
	local dir=$1 image=$2 hash=$3
	shift 3
	tar -C "$dir" -c . | podman import --quiet --change "LABEL aegis.build.hash=$hash" "$@" - "$image" >/dev/null &&
		podman tag "$image" "$(image_hash_tag "$image" "$hash")"
}

# image_derive BASE IMAGE HASH [--change ...]: IMAGE as BASE with the
# changes (an entrypoint, an environment), labelled with HASH, with no CMD
# unless a change sets one.
image_derive() {
	local base=$1 image=$2 hash=$3 ctr
	shift 3
	ctr="aegis-derive-$$-$RANDOM"
	podman create --name "$ctr" "$base" /bin/true >/dev/null &&
		podman commit -q --change "LABEL aegis.build.hash=$hash" --change 'CMD []' "$@" "$ctr" "$image" >/dev/null &&
		podman tag "$image" "$(image_hash_tag "$image" "$hash")"
	local rc=$?
	podman rm -f "$ctr" >/dev/null 2>&1
	return $rc
}

# image_mirror: the first deb URI of this machine's apt sources for its own
# release (debootstrap's mirror; never written into the project).
image_mirror() {
	local codename f
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	{
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk -v c="$codename" '
				/^Types:/ { deb = ($0 ~ /deb( |$)/) }
				/^URIs:/ { uri = $2 }
				/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c && deb && uri != "") { print uri; exit } }
				/^$/ { deb = 0; uri = "" }' "$f"
		done
		if [ -f /etc/apt/sources.list ]; then
			awk -v c="$codename" '$1 == "deb" && $0 ~ (" " c " ") { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; exit } }' /etc/apt/sources.list
		fi
	} | head -1
}
