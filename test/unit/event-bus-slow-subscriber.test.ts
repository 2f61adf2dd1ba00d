// A `docker events` subscriber that stops taking events (its client no longer reads, so the API
// writer waits for a drain) holds at most SUBSCRIBER_QUEUE_MAX of them, as dockerd's publisher
// (a 1024-event channel per subscriber, the rest dropped): before, its queue grew by every event
// the engine emitted for as long as the client stayed connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, SUBSCRIBER_QUEUE_MAX } from '../../src/engine/events.js';

test('a subscriber that does not take its events holds at most SUBSCRIBER_QUEUE_MAX of them; the newest are dropped; a reading one loses none', async () => {
  const bus = new EventBus();
  const ac = new AbortController();
  const slow = bus.stream({ signal: ac.signal })[Symbol.asyncIterator]();
  const fast = bus.stream({ signal: ac.signal })[Symbol.asyncIterator]();
  // Both subscribed (a generator's body runs from its first next()).
  const firstSlow = slow.next();
  const firstFast = fast.next();
  bus.emit('volume', 'create', 'v0');
  assert.equal((await firstSlow).value.Actor.ID, 'v0');
  assert.equal((await firstFast).value.Actor.ID, 'v0');
  const total = SUBSCRIBER_QUEUE_MAX * 5;
  let fastSeen = 0;
  for (let i = 1; i <= total; i++) {
    bus.emit('volume', 'create', `v${i}`);
    const r = await fast.next();
    assert.equal(r.value.Actor.ID, `v${i}`);
    fastSeen++;
  }
  assert.equal(fastSeen, total);
  // The slow one now takes what it holds: the oldest SUBSCRIBER_QUEUE_MAX, in order.
  const got: string[] = [];
  ac.abort();
  for (;;) {
    const r = await slow.next();
    if (r.done) break;
    got.push(r.value.Actor.ID);
  }
  assert.equal(got.length, SUBSCRIBER_QUEUE_MAX);
  assert.equal(got[0], 'v1');
  assert.equal(got.at(-1), `v${SUBSCRIBER_QUEUE_MAX}`);
});
