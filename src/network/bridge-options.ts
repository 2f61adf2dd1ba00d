// The bridge driver's -o options, read as dockerd 20.10's bridge driver reads them (libnetwork's
// networkConfiguration.fromLabels): Go's strconv.Atoi for the MTU, strconv.ParseBool for the
// switches, net.ParseIP for the default host address of published ports. A bad value is refused
// in dockerd's words (its status: 500). Keys the driver does not know are kept (inspect shows
// them, as dockerd) and do nothing.
import { isIPv4, isIPv6 } from 'node:net';
import { HakoError } from '../common/errors.js';

export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
export const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
export const MTU_OPTION = 'com.docker.network.driver.mtu';
export const HOST_BINDING_OPTION = 'com.docker.network.bridge.host_binding_ipv4';
export const DEFAULT_BRIDGE_OPTION = 'com.docker.network.bridge.default_bridge';
export const ENABLE_IPV6_OPTION = 'com.docker.network.enable_ipv6';

export interface BridgeOptions {
  /** 0: not given (dockerd: the MTU is left alone; hako: the default MTU). */
  mtu: number;
  /** Inter-container communication on the bridge (default true). */
  icc: boolean;
  /** Outbound masquerade (default true). */
  masquerade: boolean;
  /** Default host address of published ports without one (default 0.0.0.0, i.e. none). */
  hostBindingIp: string | undefined;
  defaultBridge: boolean;
  enableIpv6: boolean;
}

/** dockerd's refusal of a value (libnetwork's parseErr); 500 as dockerd 20.10 answers it. */
function parseErr(key: string, value: string, why: string): HakoError {
  return new HakoError({ step: `failed to parse ${key} value: ${value} (${why})`, kind: 'internal' });
}

/** Go's strconv.ParseBool: exactly these spellings. */
export function goParseBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** Go's strconv.Atoi on a 64-bit platform: an optional sign and decimal digits, int64 range. */
export function goAtoi(value: string): { n: number } | { err: 'invalid syntax' | 'value out of range' } {
  if (!/^[+-]?[0-9]+$/.test(value)) return { err: 'invalid syntax' };
  const big = BigInt(value);
  if (big > 9223372036854775807n || big < -9223372036854775808n) return { err: 'value out of range' };
  return { n: Number(big) };
}

/** Go's net.ParseIP: dotted IPv4 (no leading zeros) or IPv6 without a zone. */
function goParseIp(value: string): boolean {
  return isIPv4(value) || (isIPv6(value) && !value.includes('%'));
}

function parseBool(options: Record<string, string>, key: string, dflt: boolean): boolean {
  const v = options[key];
  if (v === undefined) return dflt;
  const b = goParseBool(v);
  if (b === undefined) throw parseErr(key, v, `strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
  return b;
}

/** Reads (and checks) a network's options; throws dockerd's error for the first bad one. */
export function parseBridgeOptions(options: Record<string, string>): BridgeOptions {
  let mtu = 0;
  const m = options[MTU_OPTION];
  if (m !== undefined) {
    const r = goAtoi(m);
    if ('err' in r) throw parseErr(MTU_OPTION, m, `strconv.Atoi: parsing ${JSON.stringify(m)}: ${r.err}`);
    mtu = r.n;
  }
  const hostBindingIp = options[HOST_BINDING_OPTION];
  if (hostBindingIp !== undefined && !goParseIp(hostBindingIp)) throw parseErr(HOST_BINDING_OPTION, hostBindingIp, 'nil ip');
  const out: BridgeOptions = {
    mtu,
    icc: parseBool(options, ICC_OPTION, true),
    masquerade: parseBool(options, MASQUERADE_OPTION, true),
    hostBindingIp,
    defaultBridge: parseBool(options, DEFAULT_BRIDGE_OPTION, false),
    enableIpv6: parseBool(options, ENABLE_IPV6_OPTION, false),
  };
  // libnetwork's Validate(), after the labels are read.
  if (mtu < 0) throw new HakoError({ step: `invalid MTU number: ${mtu}`, kind: 'internal' });
  return out;
}

/** The options of a stored network (checked when it was created): never throws. */
export function storedBridgeOptions(options: Record<string, string>): BridgeOptions {
  try {
    return parseBridgeOptions(options);
  } catch {
    // A record written by an older hako that took any value: what that hako did with it.
    return { mtu: 0, icc: true, masquerade: options[MASQUERADE_OPTION] !== 'false', hostBindingIp: undefined, defaultBridge: false, enableIpv6: false };
  }
}
