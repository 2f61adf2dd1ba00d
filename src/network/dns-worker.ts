// The embedded DNS thread (started by dns-server.ts through its bootstrap). It answers the
// containers' queries on an event loop of its own, so a main loop busy with sync fs calls (a
// state file's unlink took 0.85 s on a loaded ext4) does not delay them, as dockerd answers from
// goroutines. Commands come in order on workerData.port; each is acknowledged with its sequence
// number once it took effect. `closeAll` also sets the shared flag, for a main thread that waits
// for it synchronously (daemon stop: the sockets must be closed before it goes on).
import { workerData, type MessagePort } from 'node:worker_threads';
import { DnsAnswerer, type DnsCommand, type UpstreamDefaults } from './dns-answerer.js';

interface Data {
  port: MessagePort;
  defaults: UpstreamDefaults;
  /** Int32Array over a SharedArrayBuffer: [0] = 1 once every socket is closed (closeAll). */
  closed: SharedArrayBuffer;
}

const data = workerData as Data;
const answerer = new DnsAnswerer(data.defaults);
const closed = new Int32Array(data.closed);

data.port.on('message', (m: { seq: number; command: DnsCommand }) => {
  answerer.run(m.command).then(
    () => {
      if (m.command.op === 'closeAll') {
        Atomics.store(closed, 0, 1);
        Atomics.notify(closed, 0);
      }
      data.port.postMessage({ seq: m.seq });
    },
    (err: NodeJS.ErrnoException) => data.port.postMessage({ seq: m.seq, error: { message: String(err?.message ?? err), code: err?.code, errno: err?.errno } }),
  );
});
data.port.postMessage({ ready: true });
