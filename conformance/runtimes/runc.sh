#!/bin/sh
# runc 1.1.5 with a state root of its own, so the suite's containers never mix with anyone else's.
exec /usr/sbin/runc --root "${CONFORMANCE_STATE_ROOT:-/run/hako-conformance/runc}" "$@"
