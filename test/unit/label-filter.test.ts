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
  const ev = (attrs: Record<string, string>): EngineEvent => ({ Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: attrs }, scope: 'local', time: 0, timeNano: 0 });
  const m = eventMatcher({ label: [P, 'com.docker.compose.oneoff=False'] });
  assert.ok(m(ev({ 'com.docker.compose.project': 'app', 'com.docker.compose.oneoff': 'False' })));
  assert.ok(!m(ev({ 'com.docker.compose.project': 'app', 'com.docker.compose.oneoff': 'True' })));
  assert.ok(!m(ev({ 'com.docker.compose.project': 'other', 'com.docker.compose.oneoff': 'False' })));
});
