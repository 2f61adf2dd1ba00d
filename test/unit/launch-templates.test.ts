// Launch templates (src/runtime/lifecycle/launch-templates.ts): the id's bytes found and rewritten,
// a template used only after a second launch verified it byte for byte, refused for good when
// the plan depends on the id in another way, and not used when a host fact it recorded changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePlan, encodePlanHeader, encodePlanOps } from '../../src/native/plan-encoding.js';
import type { Plan, PlanOp } from '../../src/native/plan.js';
import { LaunchTemplates, idOffsets, patchedOps, plannedFor, swapId, swapIdDeep, withoutId, type PlannedMeta } from '../../src/runtime/lifecycle/launch-templates.js';

const newId = () => randomBytes(32).toString('hex');

function opsFor(id: string, odd?: (id: string) => PlanOp): PlanOp[] {
  return [
    { op: 'sethostname', name: id.slice(0, 12) },
    { op: 'mount', source: `/run/containers/${id}/rootfs`, target: `/run/containers/${id}/rootfs`, fstype: null, flags: 0, data: null },
    { op: 'writeFile', path: `/sys/fs/cgroup/pids/${id}/tasks`, data: '0', inRoot: false } as PlanOp,
    ...(odd ? [odd(id)] : []),
    { op: 'exec', file: '/bin/sh', argv: ['sh', '-c', `echo ${id.slice(0, 12)} ${id}`], env: [`HOSTNAME=${id.slice(0, 12)}`], searchPath: null } as PlanOp,
  ];
}

const plan = (ops: PlanOp[]): Plan => ({ cloneFlags: 0, cgroupFd: -1, fds: [{ source: 7, target: 0 }], internalFds: [9], pdeathsig: 0, ops });
const meta = (id: string): PlannedMeta => ({ cloneFlags: 0x20000, uidMappings: [], gidMappings: [], needsSetgroupsDeny: false, pidFromClone: false, warnings: [`w ${id}`] });
const fresh = (id: string, ops: PlanOp[], stats: Array<[string, 'dir' | 'file' | 'missing']> = []) => ({ id, opsBytes: encodePlanOps(plan(ops)), ops, planned: meta(id), containerOps: ops, stats, mountPoints: [] });

test('encodePlan is its header followed by its ops', () => {
  const p = plan(opsFor(newId()));
  assert.deepEqual(encodePlan(p), Buffer.concat([encodePlanHeader(p), encodePlanOps(p)]));
});

test('idOffsets: the full id, and its 12-character prefix only outside a full one', () => {
  const id = newId();
  const bytes = Buffer.from(`x${id}y${id.slice(0, 12)}z${id}`, 'latin1');
  assert.deepEqual(idOffsets(bytes, id), { idAt: [1, 79], shortAt: [66] });
  const other = newId();
  const t = { opsBytes: bytes, ...idOffsets(bytes, id) };
  assert.equal(patchedOps(t, other).toString('latin1'), `x${other}y${other.slice(0, 12)}z${other}`);
  assert.equal(swapId(`a${id}b${id.slice(0, 12)}`, id, other), `a${other}b${other.slice(0, 12)}`);
  assert.equal(withoutId(`a${id}b${id.slice(0, 12)}`, id), withoutId(`a${other}b${other.slice(0, 12)}`, other));
  const filter = new Uint8Array([1, 2, 3]);
  const deep = swapIdDeep({ s: id, list: [id.slice(0, 12)], filter, n: 3, none: null }, id, other);
  assert.deepEqual(deep, { s: other, list: [other.slice(0, 12)], filter, n: 3, none: null });
  assert.equal(deep.filter, filter);
});

test('a template is used once a second launch verified it, and then encodes any id as the full path does', () => {
  const ts = new LaunchTemplates();
  const [a, b, c] = [newId(), newId(), newId()];
  const noMounts = () => '/';
  ts.record('k', fresh(a, opsFor(a)));
  assert.equal(ts.use('k', b, noMounts), undefined, 'unverified');
  assert.ok(ts.pending('k'));
  ts.record('k', fresh(b, opsFor(b)));
  const t = ts.use('k', c, noMounts);
  assert.ok(t);
  assert.equal(ts.hits, 1);
  assert.deepEqual(patchedOps(t, c), encodePlanOps(plan(opsFor(c))));
  assert.deepEqual(swapIdDeep(t.ops, t.id, c), opsFor(c));
  assert.deepEqual(plannedFor(t, c), meta(c));
  assert.equal(ts.use('other key', c, noMounts), undefined);
});

test('a plan that depends on the id otherwise is refused for good; a changed host fact is not reused', () => {
  const ts = new LaunchTemplates();
  const [a, b, c, d] = [newId(), newId(), newId(), newId()];
  const odd = (id: string): PlanOp => ({ op: 'sethostname', name: id.slice(0, 10) });
  ts.record('k', fresh(a, opsFor(a, odd)));
  ts.record('k', fresh(b, opsFor(b, odd)));
  assert.equal(ts.use('k', c, () => '/'), undefined);
  assert.equal(ts.pending('k'), undefined);
  ts.record('k', fresh(c, opsFor(c, odd)));
  ts.record('k', fresh(d, opsFor(d, odd)));
  assert.equal(ts.use('k', newId(), () => '/'), undefined, 'refused for good');

  const root = mkdtempSync(join(tmpdir(), 'hako-templates-'));
  try {
    const dirOf = (id: string) => join(root, id);
    for (const id of [a, b, c]) mkdirSync(dirOf(id));
    const ts2 = new LaunchTemplates();
    ts2.record('s', fresh(a, opsFor(a), [[dirOf(a), 'dir']]));
    ts2.record('s', fresh(b, opsFor(b), [[dirOf(b), 'dir']]));
    assert.ok(ts2.use('s', c, () => '/'), 'its source is a directory too');
    assert.equal(ts2.use('s', d, () => '/'), undefined, 'its source is missing');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
