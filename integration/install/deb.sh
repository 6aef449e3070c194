#!/bin/sh
# deb.sh RELEASE_BINARY GENERATED_DIR OUT_DIR: husk_VERSION_amd64.deb, built with dpkg-deb.
#
# The package holds the static binary (no Depends), the man pages (gzipped), the bash, zsh and
# fish completions, the docs with a DEP-5 copyright file, and /usr/libexec/husk/runc, a
# symlink to husk for tools that call the runtime by the name runc (point them at that path;
# it does not take over /usr/sbin/runc). uidmap is recommended (rootless ranges), criu
# suggested (for checkpoint, once husk has it).
set -eu
binary=$1 gen=$2 out=$3
version=$("$binary" --version | sed -n 's/^husk version //p')
arch=amd64
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/husk_${version}_$arch
doc=$root/usr/share/doc/husk

install -D -m 0755 "$binary" "$root/usr/bin/husk"
for page in "$gen"/man/*.8; do
    install -D -m 0644 "$page" "$root/usr/share/man/man8/$(basename "$page")"
    gzip -9n "$root/usr/share/man/man8/$(basename "$page")"
done
install -D -m 0644 "$gen/completions/husk.bash" "$root/usr/share/bash-completion/completions/husk"
install -D -m 0644 "$gen/completions/_husk" "$root/usr/share/zsh/vendor-completions/_husk"
install -D -m 0644 "$gen/completions/husk.fish" "$root/usr/share/fish/vendor_completions.d/husk.fish"
install -d -m 0755 "$root/usr/libexec/husk"
ln -s ../../bin/husk "$root/usr/libexec/husk/runc"

install -d -m 0755 "$doc"
for f in README.md docs/*.md; do
    install -m 0644 "$f" "$doc/$(basename "$f")"
    # Debian policy: documentation over 4 KiB is compressed.
    [ "$(stat -c %s "$f")" -le 4096 ] || gzip -9n "$doc/$(basename "$f")"
done
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: husk
Source: husk's source tree (make deb builds this package from it)

Files: *
Copyright: 2026 The husk developers
License: Apache-2.0

License: Apache-2.0
 On Debian systems, the complete text of the Apache License 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
chmod 0644 "$doc/copyright"
printf 'husk (%s) unstable; urgency=medium\n\n  * Built from source with make deb.\n\n -- husk developers <husk@example.org>  %s\n' \
    "$version" "$(date -R -u -d @0)" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# A static binary is what husk is meant to be (it runs inside a container's mount namespace
# before the container's own libraries exist; a static-pie is an ET_DYN file without NEEDED,
# which lintian reads as a shared library); lintian asks for the reasons to be stated.
install -d -m 0755 "$root/usr/share/lintian/overrides"
printf 'husk: statically-linked-binary [usr/bin/husk]\nhusk: shared-library-lacks-prerequisites [usr/bin/husk]\n' > "$root/usr/share/lintian/overrides/husk"
chmod 0644 "$root/usr/share/lintian/overrides/husk"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
install -d -m 0755 "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: husk
Version: $version
Architecture: $arch
Maintainer: husk developers <husk@example.org>
Installed-Size: $size
Recommends: uidmap
Suggests: criu
Section: admin
Priority: optional
Description: OCI container runtime, a replacement for runc
 husk runs OCI bundles with runc's command line, exit codes, JSON shapes and
 log lines, so that containerd, docker, podman and Kubernetes can call it in
 place of runc. It is one static binary.
CONTROL
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/husk_${version}_$arch.deb" >/dev/null
echo "$out/husk_${version}_$arch.deb"
