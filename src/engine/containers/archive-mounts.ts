// The mounts an archive operation (docker cp: GET/HEAD/PUT /containers/{id}/archive) sees in a
// container, as dockerd mounts them for it: the container's volumes and binds, plus its
// /etc/resolv.conf, /etc/hostname and /etc/hosts, which are bind mounts of files in the
// container's directory (moby's NetworkMounts, added to the archive's mounts by setupMounts).
// Without them a copy of /etc/hosts came from the rootfs: the empty mount target (size 0, 0755).
import { existsSync } from 'node:fs';
import type { ContainerRecord, MountPoint } from './record.js';

export function archiveMounts(rec: Pick<ContainerRecord, 'MountPoints' | 'ResolvConfPath' | 'HostnamePath' | 'HostsPath'>): MountPoint[] {
  const files: Array<[string, string]> = [['/etc/resolv.conf', rec.ResolvConfPath], ['/etc/hosts', rec.HostsPath], ['/etc/hostname', rec.HostnamePath]];
  const out = [...rec.MountPoints];
  for (const [dest, source] of files) {
    // A user's mount at the same place wins (as in the spec); a file not written yet (a container
    // never started) is not mounted: the rootfs's own entry is what the container would see.
    if (!source || out.some((m) => m.Destination === dest) || !existsSync(source)) continue;
    out.push({ Type: 'bind', Source: source, Destination: dest, Mode: '', RW: true, Propagation: 'rprivate' });
  }
  return out;
}
