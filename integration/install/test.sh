#!/bin/bash
# test.sh HUSK_RELEASE GENERATED_DIR DEB: what `make install`, the man pages, the completions
# and the package promise, checked (make test-install). Prints "N passed, N failed, N skipped".
set -u
husk=$1 gen=$(cd "$2" && pwd) deb=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-}"; fi; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# make install / uninstall into a DESTDIR, every file where the list says, with its mode.
dest=$scratch/dest
make -s -C "$repo" install DESTDIR="$dest" PREFIX=/usr/local >/dev/null || bad "make install"
missing=""
while read -r src target mode; do
    f=$dest$target
    [ -f "$f" ] && [ "$(stat -c %a "$f")" = "${mode#0}" ] && cmp -s "$src" "$f" || missing="$missing $target"
done < <(sh "$here/install.sh" list "$dest" /usr/local "$husk" "$gen")
check "make install puts each listed file in place with its mode" '[ -z "$missing" ]' "$missing"
extra=$(cd "$dest" && find . -type f | sed 's|^\.||' | sort | comm -23 - <(sh "$here/install.sh" list "$dest" /usr/local "$husk" "$gen" | awk '{print $2}' | sort))
check "make install puts nothing it does not list" '[ -z "$extra" ]' "$extra"
check "the installed husk runs" '"$dest/usr/local/bin/husk" --version | grep -q "^husk version"'
make -s -C "$repo" uninstall DESTDIR="$dest" PREFIX=/usr/local >/dev/null || bad "make uninstall"
left=$(find "$dest" -type f -o -type l)
check "make uninstall leaves no file behind" '[ -z "$left" ]' "$left"

# Man pages: each renders without a warning, and names every flag of the command's --help.
for page in "$gen"/man/*.8; do
    name=$(basename "$page" .8)
    warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || bad "$name.8 renders without warnings" "$warnings"
    command=${name#husk}; command=${command#-}
    text=$(MANWIDTH=200 man -l "$page" 2>/dev/null)
    flags=$("$husk" $command --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
    absent=""
    for f in $flags; do grep -q -- "$f" <<<"$text" || absent="$absent $f"; done
    [ -z "$absent" ] || bad "$name.8 lists every flag of husk $command --help" "$absent"
done
commands=$("$husk" --help | sed -n '/^COMMANDS:/,/^$/p' | awk '/^  [a-z]/ && $1 != "help" {print $1}')
pages=""
for c in $commands; do [ -f "$gen/man/husk-$c.8" ] || pages="$pages husk-$c.8"; done
[ -f "$gen/man/husk.8" ] || pages="$pages husk.8"
check "a man page for husk and for every command" '[ -z "$pages" ] && [ -n "$commands" ]' "missing:$pages"
[ "$fail" -eq 0 ] && ok "every man page renders cleanly and lists its command's flags"

# bash completion: commands, and container ids after a command that takes one.
root=$scratch/state
mkdir -p "$scratch/bundle/rootfs/bin" && cp "$(command -v busybox)" "$scratch/bundle/rootfs/bin/"
(cd "$scratch/bundle" && "$husk" spec)
python3 - "$scratch/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["busybox", "echo", "from-the-package"]
json.dump(c, open(sys.argv[1], "w"))
PY
"$husk" --root "$root" create --bundle "$scratch/bundle" complete-me >/dev/null 2>&1
complete_line() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*";
             COMP_POINT=${#COMP_LINE}; _husk_with_ids husk "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}";
             printf "%s\n" "${COMPREPLY[@]}"' _ "$gen/completions/husk.bash" "$@"
}
PATH=$(dirname "$husk"):$PATH
check "bash completes 'husk st' to start and state" \
    '[ "$(complete_line husk st | sort | tr "\n" " ")" = "start state " ]' "$(complete_line husk st | tr '\n' ' ')"
check "bash completes a container id after 'husk kill'" \
    'complete_line "$husk" --root "$root" kill "" | grep -qx complete-me' "$(complete_line "$husk" --root "$root" kill '' | tr '\n' ' ')"
"$husk" --root "$root" delete --force complete-me >/dev/null 2>&1

# The package: its fields, lintian, and its husk running a container from a scratch root.
info=$(dpkg-deb -I "$deb")
check "dpkg-deb -I shows the package's fields" \
    'grep -q "Package: husk" <<<"$info" && grep -q "Architecture: amd64" <<<"$info" && grep -q "Recommends: uidmap" <<<"$info"'
if command -v lintian >/dev/null; then
    errors=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep '^E:')
    check "lintian gives no error" '[ -z "$errors" ]' "$errors"
else
    bad "lintian gives no error" "lintian is not installed (make deps-install)"
fi
droot=$scratch/dpkg-root
mkdir -p "$droot/var/lib/dpkg/info" "$droot/var/lib/dpkg/updates"
touch "$droot/var/lib/dpkg/status"
check "the .deb installs into a scratch root" \
    'dpkg --root="$droot" --force-script-chrootless --log=/dev/null -i "$deb" >/dev/null 2>&1'
check "the packaged husk runs a container" \
    '"$droot/usr/bin/husk" --root "$root" run --bundle "$scratch/bundle" from-deb 2>&1 | grep -q from-the-package'
check "the packaged runc name is husk" \
    '"$droot/usr/libexec/husk/runc" --version | grep -q "^husk version"'

# husk called by the name runc: a container runs, and --version still says husk.
mkdir -p "$scratch/as-runc" && ln -s "$husk" "$scratch/as-runc/runc"
check "a container runs through a symlink named runc" \
    '"$scratch/as-runc/runc" --root "$root" run --bundle "$scratch/bundle" via-runc 2>&1 | grep -q from-the-package'
check "runc --version (husk) says husk" '"$scratch/as-runc/runc" --version | grep -q "^husk version"'

verdict=ok
[ "$fail" -eq 0 ] || verdict=FAILED
echo "$pass passed, $fail failed, 0 skipped"
echo "test result: $verdict. $pass passed; $fail failed (make install, man pages, completions, package)"
[ "$fail" -eq 0 ]
