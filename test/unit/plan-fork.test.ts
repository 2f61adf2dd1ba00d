// The executor's fork op (supervised containers): encoding and the plan-shape rules it brings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HakoError } from '../../src/common/errors.js';
import { describeOp } from '../../src/native/describe-op.js';
import { OPCODES, encodePlan } from '../../src/native/plan-encoding.js';
import { CLONE, execEndsForkChild, type Plan, type PlanOp } from '../../src/native/plan.js';

const plan = (ops: PlanOp[]): Plan => ({ cloneFlags: 0, cgroupFd: -1, fds: [], internalFds: [], pdeathsig: 0, ops });
const exec = (file: string): PlanOp => ({ op: 'exec', file, argv: [file], env: [], searchPath: null });

test('fork encodes opcode 40, u64 flags, u32 parentContinuesAt, i32 pidfd, i32 cgroupFd', () => {
  const ops: PlanOp[] = [{ op: 'fork', flags: CLONE.NEWPID + CLONE.NEWNS, parentContinuesAt: 3, pidfd: 3 }, { op: 'closeFrom', from: 3 }, exec('/c'), exec('/m')];
  const full = encodePlan(plan(ops));
  const body = full.subarray(4 + 8 + 4 + 4 + 4 + 4 + 4);
  assert.equal(OPCODES.fork, 40);
  assert.equal(body.readUInt32LE(0), 40);
  assert.equal(body.readBigUInt64LE(4), BigInt(CLONE.NEWPID + CLONE.NEWNS));
  assert.equal(body.readUInt32LE(12), 3);
  assert.equal(body.readInt32LE(16), 3);
  assert.equal(body.readInt32LE(20), -1);
  // without pidfd: -1
  const noPidfd = encodePlan(plan([{ op: 'fork', flags: 0, parentContinuesAt: 2 }, exec('/c'), exec('/m')]));
  assert.equal(noPidfd.subarray(32).readInt32LE(16), -1);
  // cgroupFd: an internal fd index (the header then has one internal fd: 4 bytes more)
  const intoCg = encodePlan({ ...plan([{ op: 'fork', flags: 0, parentContinuesAt: 2, cgroupFd: 0 }, exec('/c'), exec('/m')]), internalFds: [9] });
  assert.equal(intoCg.subarray(36).readInt32LE(20), 0);
  assert.throws(() => encodePlan(plan([{ op: 'fork', flags: 0, parentContinuesAt: 2, cgroupFd: 0 }, exec('/c'), exec('/m')])), /internal fd index 0 is out of range/);
});

test('an exec may end a fork child part; anywhere else it must be last', () => {
  const ops: PlanOp[] = [{ op: 'fork', flags: 0, parentContinuesAt: 2 }, exec('/c'), exec('/m')];
  assert.equal(execEndsForkChild(ops, 1), true);
  assert.equal(execEndsForkChild(ops, 2), false);
  assert.doesNotThrow(() => encodePlan(plan(ops)));
  assert.throws(() => encodePlan(plan([exec('/c'), { op: 'fork', flags: 0, parentContinuesAt: 2 }, exec('/m')])), /exec must be the last op/);
});

test('fork validation: the continuation must follow a child part ending in exec', () => {
  const bad = (at: number, ops?: PlanOp[]) =>
    assert.throws(
      () => encodePlan(plan(ops ?? [{ op: 'fork', flags: 0, parentContinuesAt: at }, exec('/c'), exec('/m')])),
      (err: unknown) => err instanceof HakoError && err.kind === 'invalid-argument' && /parentContinuesAt is/.test(err.message),
    );
  bad(1); // no child ops
  bad(3); // past the end
  bad(0);
  bad(2, [{ op: 'fork', flags: 0, parentContinuesAt: 2 }, { op: 'noNewPrivs' }, exec('/m')]); // child part does not end in exec
  assert.throws(() => encodePlan(plan([{ op: 'fork', flags: 0, parentContinuesAt: 2, pidfd: -2 }, exec('/c'), exec('/m')])), /pidfd must be/);
});

test('describeOp names the fork and its namespaces', () => {
  assert.equal(describeOp({ op: 'fork', flags: 0, parentContinuesAt: 2 }), 'fork the container process');
  assert.equal(describeOp({ op: 'fork', flags: CLONE.NEWPID, parentContinuesAt: 2 }), 'fork the container process (new namespaces: pid)');
});
