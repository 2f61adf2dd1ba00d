// COPY/ADD's files: what the sources become beneath the destination (dockerd's rules: a
// directory's contents, a file under its own name in a directory destination or as the
// destination, a local tar extracted by ADD), owned by --chown; the files of another stage or
// image for COPY --from; --chown's names resolved in the image's /etc/passwd and /etc/group.
import { createReadStream, lstatSync, mkdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { invalid } from '../common/errors.js';
import type { ContainerEngine } from './api-types.js';
import { archiveKind, chownTree, copyTree, mkdirOwned, untar, type Source } from './build-context.js';
import { parseGroup, parsePasswd } from './containers/user.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** Lays the sources out in `stage` as they will lie beneath the rootfs. */
export async function stageSources(stage: string, sources: Source[], o: { instr: string; dest: string; destIsDir: boolean; owner: Owner; chown: boolean }): Promise<void> {
  const destPath = o.dest.replace(/\/+$/, '') || '/';
  const { owner } = o;
  for (const s of sources) {
    const st = lstatSync(s.host);
    if (st.isDirectory()) {
      copyTree(s.host, mkdirOwned(stage, destPath, owner), owner);
    } else if (o.instr === 'ADD' && !s.remote && st.isFile() && archiveKind(s.host) !== undefined) {
      // ADD extracts a local tar (plain or compressed) into the destination directory.
      const into = mkdirOwned(stage, destPath, owner);
      await untar(createReadStream(s.host), into, [], `archive ${s.rel}`);
      if (o.chown) chownTree(into, owner);
    } else if (o.destIsDir) {
      // Named as the source was (a symlink's name, not its target's), as dockerd.
      copyTree(s.host, join(mkdirOwned(stage, destPath, owner), posix.basename(s.rel)), owner);
    } else {
      copyTree(s.host, join(mkdirOwned(stage, posix.dirname(destPath), owner), posix.basename(destPath)), owner);
    }
  }
}

/**
 * The files of image `id` that `paths` name, laid out as in its rootfs in a temp dir: the
 * container's archive of each, or its whole filesystem when a wildcard or a symlinked source
 * needs the tree to resolve in.
 */
export async function imageFiles(engine: ContainerEngine, id: string, what: string, paths: string[], tempDir: () => string): Promise<string> {
  let dir = tempDir();
  const { Id } = await engine.createContainer(undefined, { Image: id, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  try {
    let whole = paths.some((p) => /[*?[]/.test(p));
    for (const p of whole ? [] : paths) {
      const clean = posix.normalize('/' + p);
      const where = join(dir, posix.dirname(clean));
      mkdirSync(where, { recursive: true });
      let tar: Readable;
      try {
        tar = (await engine.getArchive(Id, clean)).tar;
      } catch {
        continue; // missing: findSources says so in docker's words
      }
      await untar(tar, where, [], `${p} of ${what}`);
      if (lstatSync(join(dir, clean), { throwIfNoEntry: false })?.isSymbolicLink()) whole = true;
    }
    if (whole) {
      dir = tempDir();
      await untar(await engine.exportContainer(Id), dir, [], `files of ${what}`);
    }
  } finally {
    await engine.removeContainer(Id, { force: true }).catch(() => undefined);
  }
  return dir;
}

/**
 * `--chown=user[:group]` as dockerd's builder: numbers as they are, names from the image's
 * /etc/passwd and /etc/group; without a group, the group of the user's name (or number).
 */
export function resolveChown(chown: string, passwd: string[], group: string[]): Owner {
  const [u = '', g] = chown.split(':');
  const gs = g ?? u;
  const uid = /^\d+$/.test(u) ? Number(u) : parsePasswd(passwd).find((p) => p.name === u)?.uid;
  if (uid === undefined) throw invalid(`unable to convert uid/gid chown string to host mapping: can't find uid for user ${u}: no such user: ${u}`);
  const gid = /^\d+$/.test(gs) ? Number(gs) : parseGroup(group).find((x) => x.name === gs)?.gid;
  if (gid === undefined) throw invalid(`unable to convert uid/gid chown string to host mapping: can't find gid for group ${gs}: no such group: ${gs}`);
  return { uid, gid };
}
