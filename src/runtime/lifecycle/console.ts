// The console socket (runc's --console-socket): a unix socket on which the container's pty
// master is sent with SCM_RIGHTS. We connect to it and hand the fd to the child's openPty op.
import { createConnection } from 'node:net';
import { HakoError } from '../../common/errors.js';
import { native } from '../../native/addon.js';

export async function connectConsoleSocket(path: string): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const sock = createConnection({ path });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      reject(new HakoError({ step: `connect to console socket ${path}`, path, errno: Math.abs(err.errno ?? 111) }));
    });
    sock.once('connect', () => {
      // Keep our own copy of the fd; the net.Socket is closed right away.
      const handle = (sock as unknown as { _handle?: { fd?: number } })._handle;
      const fd = handle?.fd;
      if (typeof fd !== 'number' || fd < 0) {
        sock.destroy();
        reject(new HakoError({ step: `connect to console socket ${path}`, hint: 'could not get the socket fd', kind: 'internal' }));
        return;
      }
      const dup = native().dup(fd);
      sock.destroy();
      resolve(dup);
    });
  });
}
