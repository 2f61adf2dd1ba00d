// hakod's command line, after dockerd's: -H/--host (repeatable), --data-root, --exec-root,
// --pidfile, --log-level, --insecure-registry (repeatable), --cgroup-parent, --tlsverify,
// --tlscacert, --tlscert, --tlskey, -D/--debug, --group; networking: -b/--bridge, --bip,
// --ip-forward, --iptables, --icc, --dns, --mtu, --userland-proxy(-path), and hako's --nft-table / --iface-prefix (several daemons on one host);
// containers: --default-ipc-mode, --default-shm-size.
import { invalid } from '../common/errors.js';
import { parseBytes } from '../cli/units.js';
import { goAtoi } from '../network/bridge-options.js';

export interface DaemonFlags {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  insecureRegistries: string[];
  cgroupParent: string | undefined;
  tlsverify: boolean;
  tlscacert: string | undefined;
  tlscert: string | undefined;
  tlskey: string | undefined;
  /** Group owning the unix socket (default `hako` when it exists, else root only). */
  group: string | undefined;
  /** Device of the default bridge network ('none': no default network). */
  bridge: string | undefined;
  /** Gateway/prefix of the default bridge, e.g. 172.18.0.1/16. */
  bip: string | undefined;
  nftTable: string | undefined;
  ifacePrefix: string | undefined;
  ipForward: boolean;
  /** Accept rules for hako's bridges in the host's iptables FORWARD chain (dockerd --iptables). */
  iptables: boolean;
  dns: string[];
  /** dockerd --mtu: the default bridge's MTU (and its containers'); 0: 1500, as dockerd. */
  mtu: number;
  /** dockerd --icc (default true); false: the default bridge's containers talk only through legacy links. */
  icc: boolean;
  /** dockerd --userland-proxy (default true): IPv6 bindings of published ports through hakod's proxy. */
  userlandProxy: boolean;
  /** dockerd --userland-proxy-path: accepted; hako's proxy runs inside hakod, no binary is run. */
  userlandProxyPath: string | undefined;
  /** dockerd --default-ipc-mode: the IpcMode of containers created without one (default private). */
  defaultIpcMode: 'private' | 'shareable';
  /** dockerd --default-shm-size: the ShmSize of containers created without one (default 64 MiB; 0: no limit). */
  defaultShmSize: number;
  help: boolean;
  version: boolean;
}

export const DEFAULT_SOCKET = 'unix:///run/hako.sock';

export const USAGE = `Usage: hakod [OPTIONS]

A container engine serving the Docker Engine API (v1.44).

Options:
  -H, --host list               Daemon socket(s) to listen on (default unix:///run/hako.sock);
                                tcp://HOST:PORT needs --tlsverify with --tlscacert/--tlscert/--tlskey
      --data-root string        Root of persistent state (default /var/lib/hako)
      --exec-root string        Root of runtime state (default /run/hako)
  -p, --pidfile string          Path of the daemon's PID file (default /run/hako.pid)
  -l, --log-level string        debug, info, warn, error (default info)
  -D, --debug                   Same as --log-level debug
      --insecure-registry list  Registries reached over plain HTTP / unverified TLS
      --cgroup-parent string    Parent cgroup of containers
  -G, --group string            Group of the unix socket (default hako, when it exists)
  -b, --bridge string           Device of the default bridge network, or none (default hako0)
      --bip string              The default bridge's address and prefix, e.g. 172.18.0.1/16
                                (default: the first free /16 of 172.17-31.0.0, 10.x.0.0)
      --ip-forward              Set net.ipv4.ip_forward=1 (default true); false: forwarding only
                                on hako's bridges
      --iptables                Let hako's bridges' traffic through the host's iptables FORWARD
                                chain (chain HAKO-FWD-<nft-table>, default true); false: add
                                nothing to iptables (hako's own nft table is unaffected)
      --dns list                Default DNS servers of containers
      --mtu int                 MTU of the default bridge network and its containers'
                                interfaces (default 0: 1500, as dockerd; user networks
                                get 1500 unless created with -o com.docker.network.driver.mtu)
      --icc                     Let containers on the default bridge reach each other (default
                                true); false: only legacy --link ones, on the linked container's
                                exposed ports (rules in nft table bridge <nft-table>)
      --userland-proxy          Publish ports on IPv6 ([::], or an IPv6 host address) through
                                hakod's userland proxy (default true); false: IPv4 only, as
                                dockerd without ip6tables (IPv6 bindings publish nothing)
      --userland-proxy-path string
                                Accepted for dockerd's command lines; unused (the proxy runs in hakod)
      --default-ipc-mode string Default IPC mode of containers: private or shareable (default private)
      --default-shm-size bytes  Default /dev/shm size of containers (default 64MiB)
      --nft-table string        hako's nftables table (default hako)
      --iface-prefix string     Prefix of hako's bridges and veths, ≤ 5 characters (default hk)
      --tlsverify               Require TLS with client certificates verified by --tlscacert
      --tlscacert, --tlscert, --tlskey string
  -v, --version                 Print the version and exit
  -h, --help                    Print this help
`;

export function parseFlags(argv: readonly string[]): DaemonFlags {
  const f: DaemonFlags = {
    hosts: [],
    dataRoot: '/var/lib/hako',
    execRoot: '/run/hako',
    pidfile: '/run/hako.pid',
    logLevel: 'info',
    insecureRegistries: [],
    cgroupParent: undefined,
    tlsverify: false,
    tlscacert: undefined,
    tlscert: undefined,
    tlskey: undefined,
    group: undefined,
    bridge: undefined,
    bip: undefined,
    nftTable: undefined,
    ifacePrefix: undefined,
    ipForward: true,
    iptables: true,
    dns: [],
    mtu: 0,
    icc: true,
    userlandProxy: true,
    userlandProxyPath: undefined,
    defaultIpcMode: 'private',
    defaultShmSize: 64 * 1024 * 1024,
    help: false,
    version: false,
  };
  const aliases: Record<string, string> = { '-H': '--host', '-p': '--pidfile', '-l': '--log-level', '-D': '--debug', '-G': '--group', '-v': '--version', '-h': '--help', '-b': '--bridge' };
  const bools = new Set(['--debug', '--tlsverify', '--version', '--help', '--ip-forward', '--iptables', '--userland-proxy', '--icc']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    } else if (/^-[A-Za-z]./.test(arg) && !arg.startsWith('--')) {
      value = arg.slice(2).replace(/^=/, '');
      arg = arg.slice(0, 2);
    }
    arg = aliases[arg] ?? arg;
    if (bools.has(arg)) {
      const on = value === undefined || !['false', '0'].includes(value);
      if (arg === '--debug') f.logLevel = on ? 'debug' : f.logLevel;
      else if (arg === '--tlsverify') f.tlsverify = on;
      else if (arg === '--version') f.version = on;
      else if (arg === '--ip-forward') f.ipForward = on;
      else if (arg === '--iptables') f.iptables = on;
      else if (arg === '--userland-proxy') f.userlandProxy = on;
      else if (arg === '--icc') f.icc = on;
      else f.help = on;
      continue;
    }
    const known = ['--host', '--data-root', '--exec-root', '--pidfile', '--log-level', '--insecure-registry', '--cgroup-parent', '--group', '--tlscacert', '--tlscert', '--tlskey', '--bridge', '--bip', '--nft-table', '--iface-prefix', '--dns', '--mtu', '--userland-proxy-path', '--default-ipc-mode', '--default-shm-size'];
    if (!known.includes(arg)) throw invalid(`unknown flag: ${arg}`, 'see hakod --help');
    if (value === undefined) {
      if (i + 1 >= argv.length) throw invalid(`flag needs an argument: ${arg}`);
      value = argv[++i]!;
    }
    switch (arg) {
      case '--host':
        f.hosts.push(value);
        break;
      case '--data-root':
        f.dataRoot = value;
        break;
      case '--exec-root':
        f.execRoot = value;
        break;
      case '--pidfile':
        f.pidfile = value;
        break;
      case '--log-level':
        if (!['debug', 'info', 'warn', 'error'].includes(value)) throw invalid(`invalid --log-level "${value}"`, 'use debug, info, warn or error');
        f.logLevel = value as DaemonFlags['logLevel'];
        break;
      case '--insecure-registry':
        f.insecureRegistries.push(value);
        break;
      case '--cgroup-parent':
        f.cgroupParent = value;
        break;
      case '--group':
        f.group = value;
        break;
      case '--tlscacert':
        f.tlscacert = value;
        break;
      case '--tlscert':
        f.tlscert = value;
        break;
      case '--tlskey':
        f.tlskey = value;
        break;
      case '--bridge':
        if (!/^[A-Za-z0-9_.-]{1,15}$/.test(value)) throw invalid(`invalid --bridge "${value}"`, 'an interface name: at most 15 characters of [A-Za-z0-9_.-], or none');
        f.bridge = value;
        break;
      case '--bip':
        f.bip = value;
        break;
      case '--nft-table':
        f.nftTable = value;
        break;
      case '--iface-prefix':
        f.ifacePrefix = value;
        break;
      case '--userland-proxy-path':
        f.userlandProxyPath = value;
        break;
      case '--default-ipc-mode': {
        // dockerd's words; a valid mode other than these two is "not supported as default value".
        const valid = ['', 'none', 'private', 'shareable', 'host'].includes(value) || value.startsWith('container:');
        if (!valid) throw invalid(`default IPC mode setting (${value}) is invalid; use "shareable" or "private"`);
        if (value !== 'private' && value !== 'shareable') throw invalid(`IPC mode "${value}" is not supported as default value; use "shareable" or "private"`);
        f.defaultIpcMode = value;
        break;
      }
      case '--default-shm-size': {
        const n = parseBytes(value);
        if (n === null) throw invalid(`invalid argument "${value}" for "--default-shm-size" flag: invalid size: '${value}'`);
        f.defaultShmSize = n;
        break;
      }
      case '--mtu': {
        // dockerd's flag is a Go int (pflag: strconv.ParseInt), its bridge driver refuses < 0.
        const r = goAtoi(value);
        if ('err' in r) throw invalid(`invalid argument "${value}" for "--mtu" flag: strconv.ParseInt: parsing ${JSON.stringify(value)}: ${r.err}`);
        if (r.n < 0) throw invalid(`invalid MTU number: ${r.n}`);
        f.mtu = r.n;
        break;
      }
      case '--dns':
        for (const x of value.split(',').filter((v) => v)) {
          if (!/^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$/.test(x)) throw invalid(`invalid --dns "${x}"`, 'an IPv4 address (or address:port, for the embedded DNS server\'s forwarding)');
          f.dns.push(x);
        }
        break;
      default:
        throw invalid(`unknown flag: ${arg}`, 'see hakod --help');
    }
  }
  if (f.hosts.length === 0) f.hosts.push(DEFAULT_SOCKET);
  return f;
}

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `unix:///run/x.sock`, `/run/x.sock`, `tcp://127.0.0.1:2376`, `fd://` (refused). */
export function parseHost(h: string): Listen {
  if (h.startsWith('unix://')) {
    const path = h.slice('unix://'.length);
    if (!path.startsWith('/')) throw invalid(`invalid host "${h}": the unix socket path must be absolute`);
    return { kind: 'unix', path };
  }
  if (h.startsWith('/')) return { kind: 'unix', path: h };
  if (h.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[^:/]*)(?::([0-9]+))?\/?$/.exec(h);
    if (!m) throw invalid(`invalid host "${h}"`, 'use tcp://HOST:PORT');
    const port = m[2] === undefined ? 2376 : Number(m[2]);
    if (port < 1 || port > 65535) throw invalid(`invalid host "${h}": bad port`);
    return { kind: 'tcp', host: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port };
  }
  throw invalid(`invalid host "${h}"`, 'use unix:///path or tcp://HOST:PORT (fd:// is not supported)');
}

/** tcp listeners need mutual TLS: a daemon API on a network port without it is root for anyone. */
export function checkTls(f: DaemonFlags): void {
  const tcp = f.hosts.map(parseHost).filter((l) => l.kind === 'tcp');
  if (tcp.length === 0) return;
  if (!f.tlsverify || !f.tlscacert || !f.tlscert || !f.tlskey) {
    throw invalid(
      `refusing to listen on ${f.hosts.filter((h) => h.startsWith('tcp://')).join(', ')} without TLS client verification`,
      'pass --tlsverify --tlscacert CA.pem --tlscert server-cert.pem --tlskey server-key.pem (clients then need certificates signed by that CA)',
    );
  }
}
