/**
 * File primitives for the development PKI: atomic writes (a reader never sees half a key, a crash never leaves one)
 * and private files that only their owner can read.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Owner read/write only: private keys, signing JWKs and secrets. */
export const PRIVATE_FILE_MODE = 0o600;
/** Certificates and the registry are public material. */
export const PUBLIC_FILE_MODE = 0o644;
/** Directories that will hold private keys. */
export const PRIVATE_DIR_MODE = 0o700;

/** The file's text, or undefined when it does not exist. Other errors (permissions, a directory) propagate. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes through a uniquely named temporary file in the same directory and renames it into place: rename is atomic
 * on POSIX, so concurrent readers see the old or the new file, never a mix, and a crash leaves at most a stray
 * `*.tmp`. The temporary file is created with the final mode, so a private key is never readable by others.
 */
export async function writeFileAtomic(file: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    // The umask may have narrowed `mode`; set it exactly.
    await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Narrows the mode of a private file that is reused as it is (chmod changes neither content nor mtime). */
export async function ensureMode(file: string, mode: number): Promise<void> {
  if (((await stat(file)).mode & 0o777) !== mode) await chmod(file, mode);
}
