// A worker thread of FileWriterPool (file-writers.ts): creates regular files of a layer with
// synchronous fs calls, so that inode allocation, page-cache copies and attribute updates run on
// another core than the tar parsing. It imports nothing of hako: it starts in ~20 ms.
//
// Protocol: each message is a batch `{ ops, data }` (see file-writers.ts for the op layout) or
// 'quit'. After a batch, state[DONE] is incremented and notified, whatever happened. The first
// failure is posted on `errors` as a WriterFailure and state[FAILED] is set; later batches are
// then skipped (still counted), as are all batches once the pool sets state[ABORT].
import { closeSync, constants as fsc, fchmodSync, fchownSync, futimesSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

// Keep in sync with file-writers.ts.
const DONE = 0;
const FAILED = 1;
const ABORT = 2;
const OP_OPEN = 1;
const OP_WRITE = 2;
const OP_CLOSE = 3;

const O_FILE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW; // libuv adds O_CLOEXEC

interface WorkerInit {
  state: SharedArrayBuffer;
  errors: MessagePort;
  returns: MessagePort;
}

const init = workerData as WorkerInit;
const state = new Int32Array(init.state);
const errors = init.errors;
let fd = -1;
let name = '';
let path = '';
let failed = false;

function closeCurrent(): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    /* already failing or quitting */
  }
  fd = -1;
}

function fail(stage: string, err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  closeCurrent();
  failed = true;
  errors.postMessage({ stage, name, path, errno: typeof e?.errno === 'number' ? e.errno : undefined, code: e?.code, message: e?.message ?? String(err) });
  Atomics.store(state, FAILED, 1);
}

function run(ops: Array<string | number>, data: Buffer): void {
  let i = 0;
  while (i < ops.length) {
    const op = ops[i] as number;
    if (op === OP_OPEN) {
      path = ops[i + 1] as string;
      name = ops[i + 2] as string;
      const mode = ops[i + 3] as number;
      i += 4;
      try {
        fd = openSync(path, O_FILE, mode);
      } catch (e) {
        return fail('create file', e);
      }
    } else if (op === OP_WRITE) {
      let off = ops[i + 1] as number;
      const end = off + (ops[i + 2] as number);
      i += 3;
      try {
        while (off < end) off += writeSync(fd, data, off, end - off);
      } catch (e) {
        return fail('write', e);
      }
    } else if (op === OP_CLOSE) {
      const mode = ops[i + 1] as number;
      const uid = ops[i + 2] as number;
      const gid = ops[i + 3] as number;
      const atime = ops[i + 4] as number;
      const mtime = ops[i + 5] as number;
      i += 6;
      try {
        if (uid >= 0) fchownSync(fd, uid, gid);
        // After chown, which clears setuid/setgid; also undoes the umask.
        if (mode >= 0) fchmodSync(fd, mode);
        futimesSync(fd, atime, mtime);
      } catch (e) {
        return fail('set attributes of', e);
      }
      const f = fd;
      fd = -1;
      try {
        closeSync(f);
      } catch (e) {
        return fail('write', e);
      }
    } else {
      return fail('run', new Error(`unknown op ${String(op)}`));
    }
  }
}

parentPort!.on('message', (m: { ops: Array<string | number>; data: ArrayBuffer } | 'quit') => {
  if (m === 'quit') {
    closeCurrent();
    errors.close();
    init.returns.close();
    parentPort!.close();
    return;
  }
  try {
    if (!failed && Atomics.load(state, ABORT) === 0) run(m.ops, Buffer.from(m.data));
    else closeCurrent();
  } catch (e) {
    fail('run', e);
  } finally {
    init.returns.postMessage(m.data, [m.data]);
    Atomics.add(state, DONE, 1);
    Atomics.notify(state, DONE);
  }
});
