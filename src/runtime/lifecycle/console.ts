// The console socket (runc's --console-socket): a unix socket on which the container's pty
// master is sent with SCM_RIGHTS. We connect to it and hand its fd to the child's openPty op;
// the socket stays open (owned by the returned handle) until the child has been spawned.
import { createConnection } from 'node:net';
import { HakoError } from '../../common/errors.js';

export interface ConsoleSocket {
  fd: number;
  close(): void;
}

export async function connectConsoleSocket(path: string): Promise<ConsoleSocket> {
  return await new Promise<ConsoleSocket>((resolve, reject) => {
    const sock = createConnection({ path });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      reject(new HakoError({ step: `connect to console socket ${path}`, path, errno: Math.abs(err.errno ?? 111) }));
    });
    sock.once('connect', () => {
      sock.pause();
      const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) {
        sock.destroy();
        reject(new HakoError({ step: `connect to console socket ${path}`, hint: 'could not get the socket fd', kind: 'internal' }));
        return;
      }
      resolve({ fd, close: () => sock.destroy() });
    });
  });
}
