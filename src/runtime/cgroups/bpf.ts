// Loading and attaching the device program (cgroup v2). The raw bpf(2) syscall comes from the
// native addon: `native().bpf(cmd, attr, pointers?)`. Several bpf_attr fields are user-space
// pointers (the instructions, the license, the log buffer); JS cannot know a Buffer's address, so
// we pass them as `pointers`: [offset in attr, Buffer] pairs whose addresses the addon stores
// (as u64) into `attr` before the syscall. The syscall's return value is the new fd (or 0) and a
// failure throws an Error with .errno/.code.
//
// Lifetime: we keep nothing pinned in bpffs. The kernel keeps an attached program alive as long as
// the cgroup exists, so after BPF_PROG_ATTACH we close our program fd. On update we find our
// previous program through BPF_PROG_QUERY (the cgroup's own attached programs) and replace it with
// BPF_F_REPLACE; this works from any process, including a later `hako update`, without state.
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { HakoError } from '../../common/errors.js';
import { native } from '../../native/addon.js';

export type BpfSyscall = (cmd: number, attr: Buffer, pointers?: [number, Buffer][]) => number;

export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_PROG_QUERY = 16;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;

const ATTR_SIZE = 128;
const O_PATH = 0o10000000;

function errnoOf(err: unknown): number | undefined {
  const e = err as { errno?: number };
  return typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined;
}

function fail(step: string, err: unknown, path?: string, hint?: string): HakoError {
  return new HakoError({ step, path, errno: errnoOf(err), hint: hint ?? (errnoOf(err) === undefined ? String((err as Error)?.message ?? err) : undefined), cause: err });
}

/** BPF_PROG_LOAD of a cgroup device program; returns the program fd. */
export function loadDeviceProgram(bpf: BpfSyscall, program: Uint8Array): number {
  const insns = Buffer.from(program.buffer, program.byteOffset, program.byteLength);
  const license = Buffer.from('GPL\0');
  const log = Buffer.alloc(64 * 1024);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0); // prog_type
  attr.writeUInt32LE(program.byteLength / 8, 4); // insn_cnt
  // 8: insns, 16: license (pointers)
  attr.writeUInt32LE(1, 24); // log_level
  attr.writeUInt32LE(log.length, 28); // log_size
  // 32: log_buf (pointer)
  Buffer.from('hako_devices').copy(attr, 48); // prog_name[16]
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 68); // expected_attach_type
  try {
    return bpf(BPF_PROG_LOAD, attr, [
      [8, insns],
      [16, license],
      [32, log],
    ]);
  } catch (err) {
    const verifier = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim();
    const hint =
      errnoOf(err) === 14
        ? 'the bpf() in use did not pass the instruction/license pointers (native addon without pointer support)'
        : verifier
          ? `verifier: ${verifier.slice(-500)}`
          : undefined;
    throw fail('load the device cgroup eBPF program', err, undefined, hint);
  }
}

/** Ids of the programs attached to the cgroup at `dirFd` for the device hook. */
export function queryDevicePrograms(bpf: BpfSyscall, dirFd: number): number[] {
  const ids = Buffer.alloc(64 * 4);
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(dirFd, 0); // target_fd
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4); // attach_type
  // 16: prog_ids (pointer); 24: prog_cnt (in: capacity, out: count)
  attr.writeUInt32LE(64, 24);
  bpf(BPF_PROG_QUERY, attr, [[16, ids]]);
  const n = Math.min(attr.readUInt32LE(24), 64);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ids.readUInt32LE(i * 4));
  return out;
}

function progFdById(bpf: BpfSyscall, id: number): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(id, 0);
  return bpf(BPF_PROG_GET_FD_BY_ID, attr);
}

/**
 * Attaches `program` to the cgroup directory `dir` for BPF_CGROUP_DEVICE, replacing the program
 * we attached before (if any). With BPF_F_ALLOW_MULTI an ancestor's device program still runs
 * too, and every program must allow an access.
 */
export function attachDeviceProgram(bpf: BpfSyscall, dir: string, program: Uint8Array): void {
  let dirFd = -1;
  let progFd = -1;
  const oldFds: number[] = [];
  try {
    try {
      dirFd = openSync(dir, O_PATH | fsConstants.O_DIRECTORY);
    } catch (err) {
      throw fail(`open cgroup ${dir}`, err, dir);
    }
    progFd = loadDeviceProgram(bpf, program);
    let existing: number[] = [];
    try {
      existing = queryDevicePrograms(bpf, dirFd);
    } catch {
      existing = [];
    }
    for (const id of existing) {
      try {
        oldFds.push(progFdById(bpf, id));
      } catch {
        /* gone meanwhile */
      }
    }
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(dirFd, 0); // target_fd
    attr.writeUInt32LE(progFd, 4); // attach_bpf_fd
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
    const first = oldFds[0];
    attr.writeUInt32LE(BPF_F_ALLOW_MULTI | (first !== undefined ? BPF_F_REPLACE : 0), 12);
    if (first !== undefined) attr.writeUInt32LE(first, 16); // replace_bpf_fd
    try {
      bpf(BPF_PROG_ATTACH, attr);
    } catch (err) {
      throw fail(`attach the device cgroup eBPF program to ${dir}`, err, dir);
    }
    // Any further programs of ours (there should be none) are detached so exactly one remains.
    for (const fd of oldFds.slice(1)) detachProgram(bpf, dirFd, fd);
  } finally {
    for (const fd of [progFd, dirFd, ...oldFds]) if (fd >= 0) closeSync(fd);
  }
}

function detachProgram(bpf: BpfSyscall, dirFd: number, progFd: number): void {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(dirFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  try {
    bpf(BPF_PROG_DETACH, attr);
  } catch {
    /* already detached */
  }
}

/**
 * The addon's bpf(). NOTE: today's addon (native/addon.c js_bpf) takes only (cmd, attr) and
 * ignores `pointers`, so the pointer fields stay 0 and BPF_PROG_LOAD fails with EFAULT; the
 * loader then says so (see loadDeviceProgram). The addon needs to store each pointer Buffer's
 * data address (u64) at its offset in attr before the syscall.
 */
export function addonBpf(): BpfSyscall {
  const n = native();
  return n.bpf.bind(n) as unknown as BpfSyscall;
}

/** True when `err` says that the bpf() in use cannot pass user pointers (see addonBpf). */
export function isMissingPointerSupport(err: unknown): boolean {
  return err instanceof HakoError && err.code === 'EFAULT' && err.step.startsWith('load the device cgroup eBPF program');
}
