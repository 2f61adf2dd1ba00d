// A commit's config given in the request body (docker-py's commit(conf=…), the API's POST /commit
// body) is merged with the container's config as dockerd merges them (moby daemon/commit.go
// merge): the body's values first, the container's filling in what the body leaves out.
//   User, WorkingDir, StopSignal       the container's when the body has none
//   Env                                the body's (with the changes applied), then each container
//                                      variable whose name the body does not set
//   Labels, ExposedPorts, Volumes      union (the body's label wins)
//   Cmd, Entrypoint                    without a body Entrypoint: the container's Cmd if the body
//                                      has none, the container's Entrypoint if the body's is null
//   Healthcheck                        the container's, field by field where the body's is unset
type Json = Record<string, unknown>;

const isEmpty = (v: unknown): boolean => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

export function mergeCommitConfig(user: Json, container: Json): Json {
  const out: Json = { ...user };
  for (const k of ['User', 'WorkingDir', 'StopSignal']) if (isEmpty(out[k]) && !isEmpty(container[k])) out[k] = container[k];
  const cEnv = (container.Env as string[] | null | undefined) ?? [];
  const uEnv = (out.Env as string[] | null | undefined) ?? [];
  if (uEnv.length === 0) out.Env = container.Env ?? out.Env;
  else {
    const names = new Set(uEnv.map((e) => e.split('=')[0]));
    out.Env = [...uEnv, ...cEnv.filter((e) => !names.has(e.split('=')[0]))];
  }
  out.Labels = { ...((container.Labels as Json | null | undefined) ?? {}), ...((out.Labels as Json | null | undefined) ?? {}) };
  for (const k of ['ExposedPorts', 'Volumes']) {
    if (isEmpty(out[k])) {
      if (container[k] !== undefined) out[k] = container[k];
    } else out[k] = { ...(out[k] as Json), ...((container[k] as Json | null | undefined) ?? {}) };
  }
  if (isEmpty(out.Entrypoint)) {
    if (isEmpty(out.Cmd)) {
      out.Cmd = container.Cmd ?? null;
      if (container.ArgsEscaped !== undefined) out.ArgsEscaped = container.ArgsEscaped;
    }
    if (out.Entrypoint === undefined || out.Entrypoint === null) out.Entrypoint = container.Entrypoint ?? null;
  }
  const cHc = container.Healthcheck as Json | null | undefined;
  if (cHc) {
    const uHc = out.Healthcheck as Json | null | undefined;
    if (!uHc) out.Healthcheck = cHc;
    else {
      const hc: Json = { ...uHc };
      if (isEmpty(hc.Test)) hc.Test = cHc.Test;
      for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval']) if (!hc[k]) hc[k] = cHc[k];
      if (!hc.Retries) hc.Retries = cHc.Retries;
      out.Healthcheck = hc;
    }
  }
  return out;
}
