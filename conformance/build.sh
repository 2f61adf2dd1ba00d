#!/usr/bin/env bash
# build.sh — build the OCI runtime-tools validation suite offline into conformance/bin/:
#   bin/<test>.t          one binary per validation/<test>/<test>.go (emits TAP; RUNTIME names the runtime)
#   bin/runtimetest       static binary the suite copies into each bundle and runs inside the container
#   bin/rootfs-amd64.tar.gz  busybox rootfs the suite unpacks into each bundle
#
# Where the suite's source comes from (first that has validation/ and cmd/runtimetest/):
#   1. $RUNTIME_TOOLS_SRC: an upstream runtime-tools tree (a checkout or an unpacked tarball)
#   2. /usr/share/gocode/src/github.com/opencontainers/runtime-tools (Debian's -dev package; Debian
#      bookworm's ships only the library packages, without validation/ and cmd/, so today this misses)
#   3. $CONFORMANCE_SRC_CACHE (default /var/lib/hako-conformance/runtime-tools): a machine-local copy
#   4. `apt-get source golang-github-opencontainers-runtime-tools` with a private deb-src list,
#      unpacked into the cache (works where the Debian mirror serves source tarballs)
# Nothing is fetched from anywhere but Debian's apt mirror. Libraries come from Debian's golang-*-dev
# packages (GOPATH mode, GO111MODULE=off, GOPROXY=off), plus the source tree's vendor/ when it has one.
#
# Exit codes: 0 built; 3 the suite's source is not available on this machine (callers skip); other: error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/bin"
cache=${CONFORMANCE_SRC_CACHE:-/var/lib/hako-conformance/runtime-tools}
debian_src=/usr/share/gocode/src/github.com/opencontainers/runtime-tools
log() { echo "conformance/build: $*" >&2; }

# --- the suite's source -------------------------------------------------------------------------
has_suite() { [ -d "$1/validation" ] && [ -d "$1/cmd/runtimetest" ]; }

fetch_debian_source() {
  # A private apt configuration: the machine's sources.list is left alone.
  local apt_dir; apt_dir=$(mktemp -d)
  mkdir -p "$apt_dir/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" >"$apt_dir/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::lists=$apt_dir/lists" -o APT::Sandbox::User=root)
  local ok=1
  if apt-get "${opts[@]}" update -qq >/dev/null 2>&1 &&
    (cd "$apt_dir" && apt-get "${opts[@]}" source --download-only -qq golang-github-opencontainers-runtime-tools >/dev/null 2>&1); then
    local orig; orig=$(ls "$apt_dir"/*.orig.tar.* 2>/dev/null | head -1)
    if [ -n "$orig" ]; then
      mkdir -p "$cache.part" && tar -xf "$orig" -C "$cache.part" --strip-components=1 &&
        rm -rf "$cache" && mv "$cache.part" "$cache" && ok=0
    fi
  fi
  rm -rf "$apt_dir" "$cache.part"
  return $ok
}

src=""
for cand in "${RUNTIME_TOOLS_SRC:-}" "$debian_src" "$cache"; do
  if [ -n "$cand" ] && has_suite "$cand"; then src=$cand; break; fi
done
if [ -z "$src" ]; then
  log "trying apt-get source golang-github-opencontainers-runtime-tools"
  if fetch_debian_source && has_suite "$cache"; then src=$cache; fi
fi
if [ -z "$src" ]; then
  log "the validation suite's source is not available on this machine:"
  log "  Debian's golang-github-opencontainers-runtime-tools-dev ships only the library (no validation/,"
  log "  no cmd/runtimetest), and the mirror did not serve the source package."
  log "  Put an upstream runtime-tools tree at $cache or point RUNTIME_TOOLS_SRC at one."
  exit 3
fi
log "suite source: $src"

# --- packages (once the source is here: a machine without it exits 3 quickly) -------------------
pkgs=(golang-go golang-github-opencontainers-runtime-tools-dev golang-github-opencontainers-specs-dev
  golang-github-google-uuid-dev golang-github-mrunalp-fileutils-dev golang-github-hashicorp-go-multierror-dev
  golang-gocapability-dev golang-github-urfave-cli-dev golang-github-sirupsen-logrus-dev
  golang-github-moby-sys-dev golang-github-opencontainers-selinux-dev golang-golang-x-sys-dev
  golang-github-blang-semver-dev golang-github-xeipuuv-gojsonschema-dev busybox-static)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- build (GOPATH mode, offline) ---------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gp="$work/gopath"
mkdir -p "$gp/src/github.com/opencontainers"
cp -a "$src" "$gp/src/github.com/opencontainers/runtime-tools"
export GOPATH="$gp:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="${GOCACHE:-$here/work/gocache}"
export CGO_ENABLED=0
cd "$gp/src/github.com/opencontainers/runtime-tools"

rm -rf "$bin.part"
mkdir -p "$bin.part"
failed=()
log "building runtimetest"
go build -tags "netgo osusergo" -o "$bin.part/runtimetest" ./cmd/runtimetest
for dir in validation/*/; do
  name=$(basename "$dir")
  [ "$name" = util ] && continue
  [ -f "$dir/$name.go" ] || continue
  if ! go build -o "$bin.part/$name.t" "./$dir" 2>"$work/$name.err"; then
    failed+=("$name"); sed 's/^/    /' "$work/$name.err" >&2
  fi
done
"$here/make-rootfs.sh" "$bin.part/rootfs-amd64.tar.gz"
built=$(ls "$bin.part"/*.t 2>/dev/null | wc -l)
rm -rf "$bin" && mv "$bin.part" "$bin"
log "built $built validation binaries into $bin"
if [ "${#failed[@]}" -gt 0 ]; then
  log "these did not compile against Debian's libraries: ${failed[*]}"
  exit 1
fi
