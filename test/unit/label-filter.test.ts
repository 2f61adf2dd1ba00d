// docker's `label` filters: several values must all match (moby's MatchKVList), in the container,
// network, volume and event lists alike. docker-compose depends on it: it lists a service's
// containers with label=com.docker.compose.project=P AND label=com.docker.compose.service=S.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatches, labelsMatchAll } from '../../src/engine/label-filter.js';
import { containerMatches } from '../../src/engine/containers/view.js';
import { networkMatches } from '../../src/engine/containers/network-config.js';
import { volumeMatches, type VolumeMeta } from '../../src/engine/volumes.js';
import { eventMatcher } from '../../src/engine/events.js';
import { initialState, type ContainerRecord } from '../../src/engine/containers/record.js';
import type { EngineEvent } from '../../src/engine/api-types.js';

const P = 'com.docker.compose.project=app';
const WEB = 'com.docker.compose.service=web';
const DB = 'com.docker.compose.service=db';
const labels = { 'com.docker.compose.project': 'app', 'com.docker.compose.service': 'web', empty: '' };

test('labelMatches: key, key=value, key= (empty value), no prototype keys', () => {
  assert.ok(labelMatches(labels, 'com.docker.compose.project'));
  assert.ok(labelMatches(labels, P));
  assert.ok(!labelMatches(labels, 'com.docker.compose.project=other'));
  assert.ok(labelMatches(labels, 'empty='));
  assert.ok(labelMatches(labels, 'empty'));
  assert.ok(!labelMatches(labels, 'toString'));
  assert.ok(!labelMatches(null, 'a'));
  assert.ok(labelsMatchAll(labels, []));
  assert.ok(labelsMatchAll(labels, [P, WEB]));
  assert.ok(!labelsMatchAll(labels, [P, DB]));
});

test('container list: every label filter must match', () => {
  const rec = { Id: 'a'.repeat(64), Name: '/app_web_1', Created: new Date().toISOString(), Config: { Labels: labels }, HostConfig: { NetworkMode: 'bridge' }, State: initialState(), MountPoints: [], Image: 'sha256:x' } as unknown as ContainerRecord;
  const ctx = { ancestorIds: new Map<string, Set<string>>(), createdOf: () => undefined, ports: () => [] };
  assert.ok(containerMatches(rec, { label: [P, WEB] }, ctx));
  assert.ok(!containerMatches(rec, { label: [P, DB] }, ctx), 'the db service must not list the web container');
  assert.ok(!containerMatches(rec, { label: [P, 'com.docker.compose.oneoff=True'] }, ctx));
  // Other filters keep OR semantics within a key.
  assert.ok(containerMatches(rec, { status: ['running', 'created'], label: [P] }, ctx));
});

test('network and volume lists: every label filter must match', () => {
  const net = { Name: 'app_default', Id: 'n'.repeat(64), Driver: 'bridge', Labels: { 'com.docker.compose.project': 'app', 'com.docker.compose.network': 'default' } };
  assert.ok(networkMatches(net, { label: [P, 'com.docker.compose.network=default'] }, false, false));
  assert.ok(!networkMatches(net, { label: [P, 'com.docker.compose.network=back'] }, false, false));
  const vol: VolumeMeta = { Name: 'app_data', CreatedAt: '', Labels: { 'com.docker.compose.project': 'app', 'com.docker.compose.volume': 'data' }, Options: {}, Anonymous: false };
  assert.ok(volumeMatches(vol, { label: [P, 'com.docker.compose.volume=data'] }, false));
  assert.ok(!volumeMatches(vol, { label: [P, 'com.docker.compose.volume=logs'] }, false));
  assert.ok(!volumeMatches(vol, { 'label!': ['com.docker.compose.project'] }, false));
  assert.ok(volumeMatches(vol, { 'label!': ['other'] }, false));
});

test('events: every label filter must match the actor attributes', () => {
  const ev = (attrs: Record<string, string>): EngineEvent => ({ Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: attrs }, scope: 'local', time: 0, timeNano: 0n });
  const m = eventMatcher({ label: [P, 'com.docker.compose.oneoff=False'] });
  assert.ok(m(ev({ 'com.docker.compose.project': 'app', 'com.docker.compose.oneoff': 'False' })));
  assert.ok(!m(ev({ 'com.docker.compose.project': 'app', 'com.docker.compose.oneoff': 'True' })));
  assert.ok(!m(ev({ 'com.docker.compose.project': 'other', 'com.docker.compose.oneoff': 'False' })));
});

test('events: container/volume/network match any event whose actor ID or name starts with the value; image exactly, or the event\'s name without its tag (dockerd\'s events.Filter)', () => {
  const ev = (Type: EngineEvent['Type'], ID: string, attrs: Record<string, string>): EngineEvent => ({ Type, Action: 'create', Actor: { ID, Attributes: attrs }, scope: 'local', time: 0, timeNano: 0n });
  const c1 = ev('container', 'abc123'.padEnd(64, '0'), { name: 'app-1', image: 'busybox:latest' });
  const c2 = ev('container', 'def456'.padEnd(64, '0'), { name: 'other', image: 'docker.io/library/busybox' });
  const v = ev('volume', 'app-data', { driver: 'local' });
  const n = ev('network', 'f'.repeat(64), { name: 'app_default', type: 'bridge', container: c1.Actor.ID });
  const im = ev('image', 'sha256:' + 'e'.repeat(64), { name: 'busybox:1.36' });
  const pick = (f: Record<string, string[]>) => [c1, c2, v, n, im].filter(eventMatcher(f)).map((e) => e.Actor.Attributes.name ?? e.Actor.ID);
  assert.deepEqual(pick({ container: ['app'] }), ['app-1', 'app-data', 'app_default'], 'a prefix of the name, whatever the type');
  assert.deepEqual(pick({ container: ['abc123'] }), ['app-1'], 'a short ID');
  assert.deepEqual(pick({ volume: ['app-d'] }), ['app-data']);
  assert.deepEqual(pick({ network: ['app_'] }), ['app_default']);
  assert.deepEqual(pick({ image: ['busybox'] }), ['app-1', 'other', 'busybox:1.36'], 'tags (and docker.io/library/) taken off the event side');
  assert.deepEqual(pick({ image: ['busybox:latest'] }), ['app-1'], 'the value is not stripped');
  assert.deepEqual(pick({ type: ['container'], container: ['app'] }), ['app-1']);
});
