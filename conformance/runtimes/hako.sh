#!/bin/sh
# hako's OCI runtime with a state root of its own (see runc.sh).
here=$(cd "$(dirname "$0")/../.." && pwd)
exec node "$here/bin/hako-runtime.js" --root "${CONFORMANCE_STATE_ROOT:-/run/hako-conformance/hako}" "$@"
