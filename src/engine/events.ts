// The engine's event bus: docker's event objects, a bounded history for `since` replay, and live
// subscribers with filters (type, event/action, container, image, volume, label, …).
import type { EngineEvent, Filters } from './api-types.js';
import { labelsMatchAll } from './label-filter.js';
import { realtimeNs } from '../common/time.js';
import { familiarName, looksLikeId, parseReference } from '../image/reference.js';

const HISTORY = 1024;
/**
 * Live events held for one subscriber that does not take them (a `docker events` client that
 * stopped reading: its socket full, the writer waiting for a drain). dockerd's publisher gives
 * each subscriber a 1024-event channel and drops what does not fit within 100 ms; the queue here
 * grew without bound, so a stalled client grew hakod by every event the engine emitted.
 */
export const SUBSCRIBER_QUEUE_MAX = 1024;

export class EventBus {
  private readonly history: EngineEvent[] = [];
  private readonly subscribers = new Set<(e: EngineEvent) => void>();

  emit(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const ns = realtimeNs();
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(ns / 1_000_000_000n),
      timeNano: ns,
    };
    if (type === 'container' || type === 'image') {
      // The legacy fields docker still sends (status/id/from), each omitted when empty (omitempty
      // in moby's events.Message): a prune's event has no id (its Actor.ID is "").
      ev.status = action;
      if (id) ev.id = id;
      if (type === 'container' && attributes.image !== undefined) ev.from = attributes.image;
    }
    this.history.push(ev);
    if (this.history.length > HISTORY) this.history.shift();
    for (const s of this.subscribers) s(ev);
    return ev;
  }

  /** Replays history from `since` (unix seconds, fractional ok) and then live events until `until` or abort. */
  async *stream(opts: { since?: number; until?: number; filters?: Filters; signal?: AbortSignal }): AsyncIterable<EngineEvent> {
    const match = eventMatcher(opts.filters ?? {});
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    // (Set once the history replay is queued: the replay, bounded by HISTORY, comes on top.)
    let queueMax = SUBSCRIBER_QUEUE_MAX;
    const sub = (e: EngineEvent) => {
      // A subscriber that lags this far loses the newest events, as dockerd's.
      if (queue.length >= queueMax) return;
      queue.push(e);
      wake?.();
    };
    // Seconds (fractional) to ns, to the microsecond a double holds at this magnitude.
    const toNs = (sec: number): bigint => BigInt(Math.floor(sec * 1e6)) * 1000n;
    const untilNs = opts.until !== undefined ? toNs(opts.until) : undefined;
    const nowSec = Date.now() / 1000;
    if (opts.since !== undefined) {
      const sinceNs = toNs(opts.since);
      for (const e of this.history) if (e.timeNano >= sinceNs && (untilNs === undefined || e.timeNano <= untilNs)) queue.push(e);
    }
    if (opts.until !== undefined && opts.until <= nowSec) {
      for (const e of queue) if (match(e)) yield e;
      return;
    }
    queueMax = queue.length + SUBSCRIBER_QUEUE_MAX;
    this.subscribers.add(sub);
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      done = true;
      wake?.();
    };
    if (opts.until !== undefined) timer = setTimeout(finish, Math.max(0, opts.until * 1000 - Date.now()));
    opts.signal?.addEventListener('abort', finish, { once: true });
    try {
      for (;;) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          if (untilNs !== undefined && e.timeNano > untilNs) return;
          if (match(e)) yield e;
        }
        if (done || opts.signal?.aborted) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.subscribers.delete(sub);
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', finish);
    }
  }
}

/**
 * docker's event filters as dockerd's events.Filter: type, event (action), label and scope as
 * such; container, volume, network, daemon, plugin match any event whose actor ID or `name`
 * starts with the value (Go's FuzzyMatch, whatever the event's type: `container=app` lists
 * app-1's and app-2's events); image matches the actor ID or image name exactly, or with the
 * tag taken off the event's name (`image=busybox` matches `busybox:latest`).
 */
export function eventMatcher(filters: Filters): (e: EngineEvent) => boolean {
  return (e) => {
    for (const [key, values] of Object.entries(filters)) {
      if (values.length === 0) continue;
      const attrs = e.Actor.Attributes;
      if (key === 'label') {
        if (!labelsMatchAll(attrs, values)) return false;
        continue;
      }
      const name = attrs.name ?? '';
      const imageName = (e.Type === 'image' ? attrs.name : attrs.image) ?? '';
      const ok = values.some((v) => {
        switch (key) {
          case 'type':
            return e.Type === v;
          case 'event':
          case 'action':
            return e.Action === v || e.Action.split(':')[0] === v;
          case 'container':
          case 'volume':
          case 'network':
          case 'daemon':
          case 'plugin':
            return e.Actor.ID.startsWith(v) || name.startsWith(v);
          case 'image':
            return [e.Actor.ID, imageName, stripTag(e.Actor.ID), stripTag(imageName)].includes(v);
          case 'scope':
            return v === 'local';
          default:
            return true;
        }
      });
      if (!ok) return false;
    }
    return true;
  };
}

/** dockerd's stripTag: the familiar name without tag or digest; what does not parse, as is. */
function stripTag(image: string): string {
  if (image === '' || looksLikeId(image)) return image;
  try {
    return familiarName(parseReference(image, { defaultTag: false }));
  } catch {
    return image;
  }
}
