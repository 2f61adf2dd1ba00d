// The embedded DNS of an in-process Engine answers while the engine's thread (hakod's main loop)
// is blocked: containers on a user-defined network ask from their own netns while this thread
// polls synchronously for the answer (test/helpers/netns-client.ts nsResolveBlocked). Also: a
// container's name answers as soon as its start returned, and removals leave the others answered.
// (Names not the containers' would be forwarded to the host's resolvers: not asked here.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../../src/engine/engine.js';
import type { Json } from '../../src/engine/api-types.js';
import { isRoot, testCgroupName } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';
import { nsResolve, nsResolveBlocked } from '../helpers/netns-client.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : false;
let engine: Engine;
let fx: EngineFixture | undefined;
let IMAGE: string;
const cgroupParent = testCgroupName('engine-dns-thread');
const net = testNet();

before(async () => {
  if (skip) return;
  fx = await engineFixture({ dirPrefix: 'hako-dnsthr-', cgroupParent, net });
  ({ engine, image: IMAGE } = fx);
});

after(async () => {
  if (fx) {
    for (const c of await engine.listContainers({ all: true })) await engine.removeContainer(c.Id as string, { force: true }).catch(() => undefined);
    await engine.removeNetwork('dnsapp').catch(() => undefined);
  }
  await fx?.close(engine);
});

async function run(name: string): Promise<{ id: string; netns: string; ip: string }> {
  const { Id } = await engine.createContainer(name, { Image: IMAGE, Cmd: ['sleep', '120'], HostConfig: { NetworkMode: 'dnsapp' } } as never);
  await engine.startContainer(Id);
  const j = await engine.inspectContainer(Id);
  const pid = (j.State as Json).Pid as number;
  const ip = (((j.NetworkSettings as Json).Networks as Json).dnsapp as Json).IPAddress as string;
  return { id: Id, netns: `/proc/${pid}/ns/net`, ip };
}

test('engine: container names answer while the engine’s thread is blocked, and right after start and rename', { skip }, async () => {
  await engine.createNetwork({ Name: 'dnsapp' });
  const web = await run('web');
  const client = await run('client');
  assert.deepEqual(await nsResolveBlocked(client.netns, 'web'), [web.ip]);
  assert.deepEqual(await nsResolveBlocked(web.netns, 'client'), [client.ip]);
  // started and asked at once: the start returned after the DNS thread had the name
  const late = await run('late');
  assert.deepEqual(await nsResolve(client.netns, 'late'), [late.ip]);
  // renamed: the new name answers as soon as the rename returned
  await engine.renameContainer(late.id, 'later');
  assert.deepEqual(await nsResolve(client.netns, 'later'), [late.ip]);
  await engine.removeContainer(late.id, { force: true });
  await engine.removeContainer(web.id, { force: true });
  assert.deepEqual(await nsResolveBlocked(client.netns, 'client'), [client.ip]);
});
