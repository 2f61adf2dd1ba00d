#!/usr/bin/env bash
# make-rootfs.sh OUT.tar.gz — the busybox rootfs tarball the validation suite unpacks into every
# bundle (upstream uses a busybox image; we build one from Debian's busybox-static, one symlink
# per applet, like makeBusyboxRootfs in test/helpers/fixtures.ts).
set -euo pipefail
out=${1:?usage: make-rootfs.sh OUT.tar.gz}
busybox=/bin/busybox
[ -x "$busybox" ] && "$busybox" --list-full >/dev/null 2>&1 || {
  echo "make-rootfs: busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var,run,mnt}
cp "$busybox" "$tmp/bin/busybox"
chmod 0755 "$tmp/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ -e "$tmp/$applet" ] || [ -L "$tmp/$applet" ] && continue
  mkdir -p "$(dirname "$tmp/$applet")"
  ln -s /bin/busybox "$tmp/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
chmod 1777 "$tmp/tmp"
tar --numeric-owner --owner=0 --group=0 -czf "$out.part" -C "$tmp" .
mv "$out.part" "$out"
