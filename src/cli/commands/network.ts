// Network commands: create, ls, inspect, rm, connect, disconnect, prune (docker's flags and output).
import type { Ctx } from '../main.js';
import { ExitError } from '../main.js';
import { pathEscape } from '../client.js';
import { renderList } from '../format.js';
import { forEach, filtersQuery, confirm, type Json } from './common.js';

function keyValues(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    out[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
  }
  return out;
}

/** --subnet/--gateway/--ip-range/--aux-address → IPAM.Config (docker pairs each with its subnet). */
export function ipamConfig(subnets: string[], gateways: string[], ranges: string[], aux: Record<string, string>): Json[] {
  if (subnets.length === 0) {
    if (gateways.length || ranges.length || Object.keys(aux).length) throw new ExitError(1, 'every ip-range or gateway must have a corresponding subnet');
    return [];
  }
  const inside = (ip: string, cidr: string): boolean => {
    const [base = '', bits = '32'] = cidr.split('/');
    const n = (s: string) => s.split('.').reduce((a, p) => a * 256 + Number(p), 0);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip.split('/')[0]!) || !/^\d+\.\d+\.\d+\.\d+$/.test(base)) return subnets.length === 1;
    const size = 2 ** (32 - Number(bits));
    const b = Math.floor(n(base) / size) * size;
    const x = n(ip.split('/')[0]!);
    return x >= b && x < b + size;
  };
  const configs: Json[] = subnets.map((s) => ({ Subnet: s }));
  const place = (value: string, key: string, what: string) => {
    const c = configs.find((x) => inside(value, x.Subnet as string));
    if (!c) throw new ExitError(1, `no matching subnet for ${what} ${value}`);
    if (c[key] !== undefined) throw new ExitError(1, `cannot configure multiple ${what === 'gateway' ? 'gateways' : 'ranges'} (${value}, ${c[key] as string}) on the same subnet (${c.Subnet as string})`);
    c[key] = value;
  };
  for (const r of ranges) place(r, 'IPRange', 'range');
  for (const g of gateways) place(g, 'Gateway', 'gateway');
  for (const [name, ip] of Object.entries(aux)) {
    const c = configs.find((x) => inside(ip, x.Subnet as string));
    if (!c) throw new ExitError(1, `no matching subnet for aux-address ${ip}`);
    c.AuxiliaryAddresses = { ...((c.AuxiliaryAddresses as Json | undefined) ?? {}), [name]: ip };
  }
  return configs;
}

export async function networkCreate(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const body: Json = {
    Name: ctx.args[0],
    Driver: f.str('driver') ?? 'bridge',
    Scope: f.str('scope') ?? '',
    EnableIPv6: f.has('ipv6') ? f.bool('ipv6') : undefined,
    IPAM: {
      Driver: f.str('ipam-driver') ?? 'default',
      Config: ipamConfig(f.list('subnet'), f.list('gateway'), f.list('ip-range'), keyValues(f.list('aux-address'))),
      Options: keyValues(f.list('ipam-opt')),
    },
    Internal: f.bool('internal'),
    Attachable: f.bool('attachable'),
    Ingress: f.bool('ingress'),
    ConfigOnly: f.bool('config-only'),
    ConfigFrom: f.has('config-from') ? { Network: f.str('config-from') } : undefined,
    Options: keyValues(f.list('opt')),
    Labels: keyValues(f.list('label')),
  };
  const r = await client.json<Json>('POST', '/networks/create', { body });
  if (r.Warning) ctx.printErr(`WARNING: ${r.Warning as string}\n`);
  ctx.print(`${r.Id as string}\n`);
  return 0;
}

export async function networkLs(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const nets = await client.json<Json[]>('GET', '/networks', { query: { filters: filtersQuery(f.list('filter')) } });
  nets.sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
  const trunc = !f.bool('no-trunc');
  if (f.bool('quiet') && !f.has('format')) {
    ctx.print(nets.map((n) => `${trunc ? String(n.Id).slice(0, 12) : n.Id}\n`).join(''));
    return 0;
  }
  const rows = nets.map((n) => {
    const labels: Record<string, string> = n.Labels ?? {};
    const o: Json = {
      ID: trunc ? String(n.Id).slice(0, 12) : n.Id,
      Name: n.Name,
      Driver: n.Driver,
      Scope: n.Scope,
      IPv6: String(n.EnableIPv6 === true),
      Internal: String(n.Internal === true),
      Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(','),
      CreatedAt: String(n.Created ?? ''),
    };
    Object.defineProperty(o, 'Label', { value: (k: string) => labels[k] ?? '', enumerable: false });
    return o;
  });
  const header = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED' };
  ctx.print(renderList(f.str('format'), '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', rows, header));
  return 0;
}

export async function networkInspect(ctx: Ctx): Promise<number> {
  const { inspectObjects } = await import('./system.js');
  const verbose = ctx.flags.bool('verbose');
  return inspectObjects(ctx, ctx.args, async (c, name) => c.json<Json>('GET', `/networks/${pathEscape(name)}`, { query: { verbose: verbose || undefined } }), 'network');
}

export async function networkRm(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const { ApiError } = await import('../client.js');
  return forEach(ctx, ctx.args, async (name) => {
    try {
      await client.json('DELETE', `/networks/${pathEscape(name)}`);
    } catch (e) {
      if (ctx.flags.bool('force') && e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
    return name;
  });
}

export async function networkConnect(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const f = ctx.flags;
  const [network, container] = ctx.args as [string, string];
  const ipam: Json = {};
  if (f.has('ip')) ipam.IPv4Address = f.str('ip');
  if (f.has('ip6')) ipam.IPv6Address = f.str('ip6');
  if (f.list('link-local-ip').length) ipam.LinkLocalIPs = f.list('link-local-ip');
  const endpoint: Json = {};
  if (Object.keys(ipam).length) endpoint.IPAMConfig = ipam;
  if (f.list('alias').length) endpoint.Aliases = f.list('alias');
  if (f.list('link').length) endpoint.Links = f.list('link');
  if (f.list('driver-opt').length) endpoint.DriverOpts = keyValues(f.list('driver-opt'));
  await client.json('POST', `/networks/${pathEscape(network)}/connect`, { body: { Container: container, EndpointConfig: endpoint } });
  return 0;
}

export async function networkDisconnect(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  const [network, container] = ctx.args as [string, string];
  await client.json('POST', `/networks/${pathEscape(network)}/disconnect`, { body: { Container: container, Force: ctx.flags.bool('force') } });
  return 0;
}

export async function networkPrune(ctx: Ctx): Promise<number> {
  const client = await ctx.client();
  if (!ctx.flags.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.'))) return 0;
  const r = await client.json<Json>('POST', '/networks/prune', { query: { filters: filtersQuery(ctx.flags.list('filter')) } });
  const deleted = (r.NetworksDeleted as string[] | null) ?? [];
  if (deleted.length) ctx.print(`Deleted Networks:\n${deleted.join('\n')}\n\n`);
  return 0;
}
