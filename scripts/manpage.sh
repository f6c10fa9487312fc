#!/usr/bin/env bash
# Generate the man page aegis-deploy(1) from the binary's own help texts
# (`aegis-deploy --help` and each command's `--help`), so the page never
# says something the binary does not.  Usage: scripts/manpage.sh BINARY > aegis-deploy.1
set -euo pipefail
bin=$1
esc() { sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/' -e 's/-/\\-/g'; }
version=$(git -C "$(dirname "$0")/.." describe --always --dirty 2>/dev/null || echo unknown)
cat <<EOF2
.TH AEGIS-DEPLOY 1 "" "aegis-deploy $version" "User Commands"
.SH NAME
aegis-deploy \\- deploy the AEGIS agent platform as Podman pods in dependency order
.SH SYNOPSIS
.B aegis-deploy
.I COMMAND
.RI [ OPTIONS ]
.SH DESCRIPTION
.nf
EOF2
"$bin" --help | esc
echo ".fi"
echo ".SH COMMANDS"
for c in $("$bin" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
	echo ".SS $c"
	echo ".nf"
	# the global options are described once, above
	"$bin" "$c" --help | sed '/^Global options/,$d' | esc
	echo ".fi"
done
cat <<'EOF2'
.SH FILES
.TP
.I .env
the configuration (see the configuration reference in the documentation)
.TP
.I kube/, profiles/
the pod templates and profiles, beside the binary or under PREFIX/share/aegis-deploy
.SH SEE ALSO
.BR podman (1),
.BR podman-kube-play (1),
.BR systemctl (1)
EOF2
