// `hako-runtime features`: what this runtime implements, per the runtime-spec features schema
// (features-schema.json / features-linux.json). It claims only what the planner and the executor
// really do; anything listed here is covered by the planner's tests.
import { CAPABILITIES } from '../security/capabilities.js';
import { SPEC_ARCHES } from '../security/seccomp/arch.js';
import { MOUNT_OPTIONS } from '../plan/mount-options.js';
import { NAMESPACE_TYPES, OCI_VERSION, type NamespaceType } from './types.js';

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  annotations: Record<string, string>;
  potentiallyUnsafeConfigAnnotations: string[];
  linux: {
    namespaces: NamespaceType[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp: {
      enabled: boolean;
      actions: string[];
      operators: string[];
      archs: string[];
      knownFlags: string[];
      supportedFlags: string[];
    };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
    netDevices: { enabled: boolean };
  };
}

export function features(): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...MOUNT_OPTIONS],
    annotations: {
      'org.opencontainers.runtime-spec.features.runtime': 'hako',
    },
    potentiallyUnsafeConfigAnnotations: [],
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        // SCMP_ACT_NOTIFY needs a listener fd handed to an agent: not implemented.
        actions: [
          'SCMP_ACT_ALLOW',
          'SCMP_ACT_ERRNO',
          'SCMP_ACT_KILL',
          'SCMP_ACT_KILL_PROCESS',
          'SCMP_ACT_KILL_THREAD',
          'SCMP_ACT_LOG',
          'SCMP_ACT_TRACE',
          'SCMP_ACT_TRAP',
        ],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'],
        archs: [...SPEC_ARCHES],
        knownFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
        // WAIT_KILLABLE_RECV only means something with a notify listener.
        supportedFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
      netDevices: { enabled: false },
    },
  };
}
