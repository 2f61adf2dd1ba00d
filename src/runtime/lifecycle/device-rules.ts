// The device cgroup rules a container gets: the spec's own rules first, then the devices every
// container needs (runc and docker allow these implicitly, whatever the spec says), then one
// allow rule per device listed in linux.devices that no rule of the spec names (type, major and
// minor): a spec that does name it decides its access (docker's `--device /dev/x:/dev/x:r` is a
// linux.devices entry plus an `r` rule; an rwm rule after it made it writable). The last matching
// rule wins, so a spec that starts with "deny all" (as `runc spec` and ours do) still gets a
// working /dev.
import type { Spec } from '../spec/types.js';
import type { LinuxDeviceCgroup } from '../cgroups/index.js';

const IMPLICIT: LinuxDeviceCgroup[] = [
  // mknod of any device is allowed; using one is not, unless listed below.
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // /dev/console
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
];

export function deviceCgroupRules(spec: Spec): LinuxDeviceCgroup[] {
  const fromSpec = ((spec.linux?.resources as { devices?: LinuxDeviceCgroup[] } | undefined)?.devices ?? []).map((d) => ({ ...d }));
  const listed: LinuxDeviceCgroup[] = (spec.linux?.devices ?? [])
    .filter((d) => d.type !== 'p')
    .map((d): LinuxDeviceCgroup => ({ allow: true, type: d.type === 'u' ? 'c' : d.type, major: d.major ?? -1, minor: d.minor ?? -1, access: 'rwm' }))
    .filter((d) => !fromSpec.some((r) => r.type === d.type && r.major === d.major && r.minor === d.minor));
  return [...fromSpec, ...IMPLICIT, ...listed];
}
