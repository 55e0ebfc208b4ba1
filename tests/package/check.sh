#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# tests/package/check.sh [SRCDIR]: builds the Debian package of SRCDIR
# (default: this tree) and checks it, without installing it.  `make
# package-check' runs it; so does .ci/run after the test suite.
#
# 1. The build: the files git tracks plus the untracked ones it does not
#    ignore, as they are in the working tree (without git: a copy of the
#    tree, cleaned with make distclean if it is configured), copied to a
#    temporary directory, and built there with dpkg-buildpackage -us -uc
#    -b and DEB_BUILD_OPTIONS=nocheck (CI runs the tests on their own).
# 2. lintian on the .deb: an error fails; warnings are printed.
# 3. The unit as packaged: systemd-analyze security --offline=yes must
#    rate its exposure 2.0 or below, and systemd-analyze verify must have
#    nothing to say about it, checked in a scratch root made of the
#    unpacked package and this machine's systemd units (so the binaries
#    the unit names exist), with the man pages its Documentation= names
#    looked up in the package once the package has man pages.
# 4. mandoc -Tlint -W warning on every man page the package installs.
# 5. dpkg-deb -c/-I/-e: the files and their modes, the conffile list,
#    otagw.conf's absolute paths, the dependencies, and what the
#    maintainer scripts do (the user, the modes of the state directory,
#    key and token, debhelper's systemd part).
#
# The last line is "N passed, N failed"; the exit status is 1 when a
# check failed.  KEEP=1 keeps the temporary directory (its path is
# printed).  JOBS sets the build's parallel jobs (default 2).
set -u

src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/otagw-package.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
	trap 'echo "kept $work" >&2' EXIT
else
	trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

passed=0
failed=0
say() { printf 'package-check: %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check NAME COMMAND...: one check, passed when COMMAND succeeds.
check() {
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# Tools ------------------------------------------------------------------

missing=""
for t in dpkg-buildpackage dpkg-deb dpkg-parsechangelog dh lintian \
    systemd-analyze mandoc; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	fail "tools:$missing missing (apt-get install debhelper dpkg-dev" \
	    "lintian systemd mandoc; ./quickstart.sh installs them)"
	finish
fi

# 1. Build ---------------------------------------------------------------

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
upstream=${version%-*}
tree=$work/build/otagw-$upstream
mkdir -p "$tree"
say "copying $src to $tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
	    tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$tree"
else
	cp -a "$src/." "$tree"
	[ -f "$tree/Makefile" ] && (cd "$tree" && make -s distclean) \
	    >/dev/null 2>&1
fi

say "dpkg-buildpackage -us -uc -b (nocheck) in $tree"
if (cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-2}" \
    dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b"
else
	tail -n 40 "$work/build.log"
	fail "dpkg-buildpackage -us -uc -b (log above)"
	finish
fi
deb=$(ls "$work"/build/otagw_"$version"_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
	fail "no otagw_${version}_*.deb was built"
	finish
fi
say "built $(basename "$deb")"
root=$work/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$work/control"
dpkg-deb -c "$deb" >"$work/contents"

# 2. lintian -------------------------------------------------------------

lintian --fail-on error "$deb" >"$work/lintian.log" 2>&1
rc=$?
sed 's/^/lintian: /' "$work/lintian.log"
errors=$(grep -c '^E: ' "$work/lintian.log")
warnings=$(grep -c '^W: ' "$work/lintian.log")
if [ "$rc" -eq 0 ] && [ "$errors" -eq 0 ]; then
	pass "lintian: no errors ($warnings warnings)"
else
	fail "lintian: $errors errors, $warnings warnings (exit $rc)"
fi

# 3. The unit ------------------------------------------------------------

unit=""
for d in lib/systemd/system usr/lib/systemd/system; do
	[ -f "$root/$d/otagw.service" ] && unit=$d/otagw.service
done
if [ -z "$unit" ]; then
	fail "otagw.service is in the package"
else
	pass "otagw.service is in the package: /$unit"

	systemd-analyze security --offline=yes --threshold=20 \
	    "$root/$unit" >"$work/security.log" 2>&1
	rc=$?
	exposure=$(sed -n 's/.*Overall exposure level for otagw.service: \([0-9.]*\).*/\1/p' \
	    "$work/security.log")
	if [ "$rc" -eq 0 ] && [ -n "$exposure" ] &&
	    awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
		pass "systemd-analyze security: exposure $exposure (at most 2.0)"
	else
		grep '✗' "$work/security.log"
		fail "systemd-analyze security: exposure ${exposure:-unknown}" \
		    "(at most 2.0; exit $rc)"
	fi

	# A root in which the unit's programs exist: the package, this
	# machine's units (the targets it is ordered after and wanted by),
	# and kill(1) for ExecReload.
	vroot=$work/vroot
	mkdir -p "$vroot"
	cp -a "$root/." "$vroot"
	for d in /lib/systemd/system /usr/lib/systemd/system; do
		[ -d "$d" ] || continue
		mkdir -p "$vroot$d"
		cp -an "$d/." "$vroot$d"
	done
	[ -e "$vroot/bin" ] || ln -s usr/bin "$vroot/bin"
	mkdir -p "$vroot/usr/bin"
	cp -p "$(readlink -f /bin/kill)" "$vroot/usr/bin/kill"
	if [ -d "$root/usr/share/man" ]; then
		man=yes
	else
		man=no
		echo "note: the package has no man pages yet: verify does" \
		    "not look up Documentation="
	fi
	MANPATH=$root/usr/share/man systemd-analyze verify --man=$man \
	    --root="$vroot" otagw.service >"$work/verify.log" 2>&1
	rc=$?
	cat "$work/verify.log"
	if [ "$rc" -eq 0 ] && [ ! -s "$work/verify.log" ]; then
		pass "systemd-analyze verify otagw.service: clean"
	else
		fail "systemd-analyze verify otagw.service (exit $rc)"
	fi

	for line in \
	    "Type=notify" \
	    "ExecStartPre=/usr/sbin/otagw -n -c /etc/otagw/otagw.conf" \
	    "ExecStart=/usr/sbin/otagw -d -c /etc/otagw/otagw.conf" \
	    "ExecReload=/bin/kill -HUP \$MAINPID" \
	    "User=otagw" "StateDirectory=otagw" "StateDirectoryMode=0700" \
	    "CapabilityBoundingSet="; do
		check "otagw.service has $line" \
		    grep -qxF "$line" "$root/$unit"
	done
fi

# 4. Man pages -----------------------------------------------------------

pages=$(find "$root/usr/share/man" -type f 2>/dev/null | sort)
if [ -z "$pages" ]; then
	echo "note: the package installs no man pages"
fi
for page in $pages; do
	check "mandoc -Tlint ${page#"$root"}" \
	    mandoc -Tlint -W warning "$page"
done

# 5. Contents and maintainer scripts --------------------------------------

# mode PATH: the mode and owner dpkg-deb -c lists for ./PATH
mode() {
	awk -v p="./$1" '$6 == p { print $1, $2 }' "$work/contents"
}
check "/usr/sbin/otagw: -rwxr-xr-x root/root" \
    test "$(mode usr/sbin/otagw)" = "-rwxr-xr-x root/root"
check "/usr/bin/otactl: -rwxr-xr-x root/root" \
    test "$(mode usr/bin/otactl)" = "-rwxr-xr-x root/root"
check "/etc/otagw/otagw.conf: -rw-r--r-- root/root" \
    test "$(mode etc/otagw/otagw.conf)" = "-rw-r--r-- root/root"
check "/usr/share/doc/otagw/copyright" \
    test -f "$root/usr/share/doc/otagw/copyright"
check "/usr/share/doc/otagw/README.md" \
    sh -c 'ls "$1"/usr/share/doc/otagw/README.md* >/dev/null 2>&1' \
    sh "$root"
check "the docs/ pages in /usr/share/doc/otagw/docs" \
    sh -c 'ls "$1"/usr/share/doc/otagw/docs/configuration.md* \
    >/dev/null 2>&1' sh "$root"
check "no file outside /etc, /lib, /usr" \
    sh -c '! grep -v -E " \./(etc|lib|usr)(/|$)| \./$" "$1"' \
    sh "$work/contents"
check "conffiles: /etc/otagw/otagw.conf" \
    grep -qx /etc/otagw/otagw.conf "$work/control/conffiles"
check "conffiles: nothing but /etc" \
    sh -c '! grep -v "^/etc/" "$1"' sh "$work/control/conffiles"

conf=$root/etc/otagw/otagw.conf
for line in "state_dir /var/lib/otagw" "tls_cert /etc/otagw/server.pem" \
    "tls_key /etc/otagw/server.key" \
    "admin_token_file /etc/otagw/admin.token"; do
	check "otagw.conf: $line" grep -qx "$line" "$conf"
done
check "otagw.conf: no relative path" \
    sh -c '! grep -E "^[a-z_]+ +\.\.?/" "$1"' sh "$conf"

depends=$(dpkg-deb -f "$deb" Depends)
for d in adduser openssl libcoap3 libnghttp2 liblmdb libcjson \
    libhttp-parser; do
	check "Depends names $d" sh -c 'case $1 in *"$2"*) ;; *) exit 1;;
	    esac' sh "$depends" "$d"
done

pi=$work/control/postinst
pr=$work/control/postrm
check "postinst and postrm: sh -n" sh -c 'sh -n "$1" && sh -n "$2"' \
    sh "$pi" "$pr"
check "postinst: adduser --system --group otagw" \
    grep -q 'adduser --system --group --home "$state" --no-create-home' \
    "$pi"
check "postinst: state directory otagw:otagw 0700" \
    grep -q 'install -d -o otagw -g otagw -m 0700 "$state"' "$pi"
check "postinst: key root:otagw 0640, token otagw:otagw 0600" \
    sh -c 'grep -A1 "chown root:otagw \"\$conf/server.key.new\"" "$1" |
    grep -q "chmod 0640" &&
    grep -A1 "chown otagw:otagw \"\$conf/admin.token.new\"" "$1" |
    grep -q "chmod 0600"' sh "$pi"
check "postinst: secrets on the first installation only" \
    grep -q 'if \[ -z "$2" \]' "$pi"
check "postinst: debhelper enables and starts otagw.service" \
    sh -c 'grep -q "deb-systemd-helper .*otagw.service" "$1" &&
    grep -q "deb-systemd-invoke .*otagw.service" "$1"' sh "$pi"
check "postrm purge: state directory and secrets" \
    sh -c 'grep -q "rm -rf /var/lib/otagw" "$1" &&
    grep -q "/etc/otagw/server.key" "$1"' sh "$pr"

finish
