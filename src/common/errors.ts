// One error type for the whole of hako. It carries the step that failed, the path it was
// working on and the errno, and renders as `mount proc on /proc: permission denied (EPERM)`.
import { constants as osConstants } from 'node:os';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}
// Linux has one errno (95) for both; the kernel and its tools call it EOPNOTSUPP.
errnoNames.set(osConstants.errno.EOPNOTSUPP, 'EOPNOTSUPP');

/** errno number → symbolic name (`1` → `EPERM`). */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

const descriptions: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  ENXIO: 'no such device or address',
  E2BIG: 'argument list too long',
  ENOEXEC: 'exec format error',
  EBADF: 'bad file descriptor',
  ECHILD: 'no child processes',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EFAULT: 'bad address',
  ENOTBLK: 'block device required',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EXDEV: 'invalid cross-device link',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENFILE: 'too many open files in system',
  EMFILE: 'too many open files',
  ENOTTY: 'inappropriate ioctl for device',
  ETXTBSY: 'text file busy',
  EFBIG: 'file too large',
  ENOSPC: 'no space left on device',
  ESPIPE: 'illegal seek',
  EROFS: 'read-only file system',
  EMLINK: 'too many links',
  EPIPE: 'broken pipe',
  ERANGE: 'numerical result out of range',
  ENAMETOOLONG: 'file name too long',
  ENOSYS: 'function not implemented',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  EOVERFLOW: 'value too large for defined data type',
  EOPNOTSUPP: 'operation not supported',
  EADDRINUSE: 'address already in use',
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  ENOTSUP: 'operation not supported',
  ENODATA: 'no data available',
  EDQUOT: 'disk quota exceeded',
};

/** errno number → `permission denied (EPERM)`. */
export function describeErrno(errno: number): string {
  const name = errnoName(errno);
  const text = descriptions[name];
  return text ? `${text} (${name})` : name;
}

export interface HakoErrorOptions {
  /** What was being done, e.g. `mount proc on /proc`. */
  step: string;
  /** The path involved, when there is one. */
  path?: string | undefined;
  /** Positive errno, when the failure came from the kernel. */
  errno?: number | undefined;
  /** A hint for the user: how to fix it. */
  hint?: string | undefined;
  /** A machine-readable kind, used by the API layer to pick a status code. */
  kind?: HakoErrorKind | undefined;
  cause?: unknown;
}

export type HakoErrorKind =
  | 'invalid-argument' // 400
  | 'not-found' // 404
  | 'conflict' // 409
  | 'forbidden' // 403
  | 'unauthorized' // 401
  | 'internal'; // 500

export class HakoError extends Error {
  readonly step: string;
  readonly path: string | undefined;
  readonly errno: number | undefined;
  readonly code: string | undefined;
  readonly hint: string | undefined;
  readonly kind: HakoErrorKind;

  constructor(opts: HakoErrorOptions) {
    let message = opts.step;
    if (opts.errno !== undefined) message += `: ${describeErrno(opts.errno)}`;
    if (opts.hint) message += ` (${opts.hint})`;
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HakoError';
    this.step = opts.step;
    this.path = opts.path;
    this.errno = opts.errno;
    this.code = opts.errno === undefined ? undefined : errnoName(opts.errno);
    this.hint = opts.hint;
    this.kind = opts.kind ?? (opts.errno === undefined ? 'invalid-argument' : 'internal');
  }
}

/** A user mistake with no errno: `invalid value for --memory: "-5" (must be a positive size)`. */
export function invalid(step: string, hint?: string): HakoError {
  return new HakoError({ step, hint, kind: 'invalid-argument' });
}

export function notFound(step: string, hint?: string): HakoError {
  return new HakoError({ step, hint, kind: 'not-found' });
}

export function conflict(step: string, hint?: string): HakoError {
  return new HakoError({ step, hint, kind: 'conflict' });
}

/**
 * Wraps a Node fs/syscall error (which has `.errno` negative and `.code`) into a HakoError
 * that names the step and path. Non-system errors are returned unchanged when already HakoError.
 */
export function fromSystemError(step: string, err: unknown, path?: string): HakoError {
  if (err instanceof HakoError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.errno === 'number') {
    return new HakoError({ step, path: path ?? e.path, errno: Math.abs(e.errno), cause: err });
  }
  if (e && typeof e.code === 'string' && e.code in osConstants.errno) {
    const n = (osConstants.errno as Record<string, number>)[e.code];
    return new HakoError({ step, path: path ?? e.path, errno: n, cause: err });
  }
  return new HakoError({ step, path, kind: 'internal', hint: e?.message ?? String(err), cause: err });
}

/** Runs `fn` and rethrows any failure as a HakoError naming `step`. */
export async function step<T>(name: string, fn: () => Promise<T>, path?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromSystemError(name, err, path);
  }
}

export function stepSync<T>(name: string, fn: () => T, path?: string): T {
  try {
    return fn();
  } catch (err) {
    throw fromSystemError(name, err, path);
  }
}
