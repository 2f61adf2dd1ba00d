// The OCI process of an exec in a running container (docker exec, and health probes): the
// container's env with the exec's on top, its user resolved in the rootfs (with HostConfig.GroupAdd),
// its capabilities and rlimits (HostConfig.Ulimits): docker execs start from the container's own
// OCI process.
import type { Json } from './api-types.js';
import type { ContainerRecord } from './containers/record.js';
import { capNames } from '../runtime/security/capabilities.js';
import { containerCaps, daemonEnv, replaceOrAppendEnv, rlimitsOf, securityOpts } from './containers/spec.js';
import { resolveUser } from './containers/user.js';

export interface ExecProcessInput {
  Cmd: string[];
  Env?: string[] | null | undefined;
  User?: string | undefined;
  WorkingDir?: string | undefined;
  Privileged?: boolean | undefined;
}

export function execProcessSpec(rec: ContainerRecord, rootfs: string, b: ExecProcessInput, tty: boolean, linkedEnv: readonly string[] = []): Json {
  const hc = rec.HostConfig;
  const user = resolveUser(rootfs, b.User || (rec.Config.User as string) || '', ((hc.GroupAdd as string[] | null | undefined) ?? []).map(String));
  const rlimits = rlimitsOf(hc);
  const privileged = b.Privileged === true || hc.Privileged === true;
  const caps = capNames(containerCaps(hc, privileged));
  // dockerd's exec environment: its daemon defaults (PATH, HOSTNAME, TERM with a terminal), the
  // container's Env over them, then the exec's own (an image without PATH still gets one); the
  // legacy links' variables after the defaults, as dockerd's ContainerExecCreate.
  const env = replaceOrAppendEnv(daemonEnv((rec.Config.Hostname as string | undefined) ?? '', tty, (rec.Config.Env as string[] | null) ?? [], linkedEnv), b.Env ?? []);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  return {
    terminal: tty,
    user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
    args: b.Cmd,
    env,
    cwd: b.WorkingDir || (rec.Config.WorkingDir as string) || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    ...(rlimits.length > 0 ? { rlimits } : {}),
    noNewPrivileges: securityOpts(hc).noNewPrivileges,
  };
}
