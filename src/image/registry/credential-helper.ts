// The docker credential-helper protocol: `docker-credential-<name> get|store|erase` with the
// server URL (or the credentials as JSON) on stdin. Its own module so that node:child_process is
// loaded only when a helper is configured (the hako CLI reads credentials.ts on every pull).
import { execFile } from 'node:child_process';
import { HakoError } from '../../common/errors.js';

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; resolves with its stdout. */
export async function runCredentialHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<{ ok: boolean; out: string }> {
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [action], { timeout: 30_000, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new HakoError({ step: `credential helper ${bin} is not installed (not found in PATH)`, kind: 'unauthorized', hint: `install it, or remove "${helper}" from credsStore/credHelpers in the docker config` }));
        return;
      }
      if (err && (err as { killed?: boolean }).killed) {
        reject(new HakoError({ step: `credential helper ${bin} ${action} did not answer within 30 s`, kind: 'unauthorized' }));
        return;
      }
      resolve({ ok: !err, out: (stdout || stderr || '').trim() });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

