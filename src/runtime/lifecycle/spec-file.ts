// spec: write a default config.json into a bundle directory (never over an existing one).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, fromSystemError } from '../../common/errors.js';
import { defaultSpec } from '../spec/defaults.js';

export function writeDefaultSpec(bundle: string, rootless: boolean): void {
  const file = join(bundle, 'config.json');
  try {
    writeFileSync(file, JSON.stringify(defaultSpec({ rootless }), null, '\t') + '\n', { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`File ${file} exists. Remove it first`);
    throw fromSystemError(`write ${file}`, err, file);
  }
}
