// Durable file replacement for the small state files beside the data (a partition's log start
// offset, the producer-id high-water): the new content is written and fsynced to a temporary
// file, renamed over the old one, and the directory is fsynced, so after a crash the file holds
// either the old content or the new, never a mix.
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Replaces `path` with `content` atomically and durably (write + fsync a temporary, rename, fsync the directory). */
export async function replaceFileDurably(path: string, content: string | Buffer): Promise<void> {
  const temporary = `${path}.tmp`;
  const fh = await open(temporary, 'w');
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temporary, path);
  await syncDirectory(dirname(path));
}

/** Makes a file creation or rename in `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (error) {
    // Some platforms cannot fsync a directory; the data files themselves are synced.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await fh.close();
  }
}
