// Where builds unpack their contexts and stage their files, beneath the daemon's data root.
// A module of its own: hakod empties it at start without loading the builder.
import { join } from 'node:path';

export function buildWorkDir(root: string): string {
  return join(root, 'builder');
}
