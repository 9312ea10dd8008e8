/**
 * SHA-256 of executables, computed off the event loop's critical path
 * (streamed) and cached per (device, inode, size, mtime), so a 100 MB binary
 * is hashed once however many processes run it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

const MAX_ENTRIES = 4096;

export class HashCache {
  private readonly done = new Map<string, string | null>();
  private readonly pending = new Map<string, Promise<string | null>>();

  /** The file's identity key, or null when it cannot be stat()ed. */
  static keyOf(path: string): string | null {
    try {
      const st = statSync(path);
      if (!st.isFile()) return null;
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return null;
    }
  }

  /** The hash if already known (undefined while unknown or pending). */
  peek(key: string | null): string | null | undefined {
    return key === null ? null : this.done.get(key);
  }

  /** Start (or join) hashing `path` whose identity is `key`. */
  request(key: string | null, path: string): Promise<string | null> {
    if (key === null) return Promise.resolve(null);
    const d = this.done.get(key);
    if (d !== undefined) return Promise.resolve(d);
    const p = this.pending.get(key);
    if (p) return p;
    const job = new Promise<string | null>((resolve) => {
      const h = createHash('sha256');
      const s = createReadStream(path, { highWaterMark: 1 << 20 });
      s.on('data', (c) => h.update(c));
      s.on('error', () => resolve(null));
      s.on('end', () => resolve(h.digest('hex')));
    }).then((v) => {
      this.pending.delete(key);
      if (this.done.size >= MAX_ENTRIES) this.done.delete(this.done.keys().next().value as string);
      this.done.set(key, v);
      return v;
    });
    this.pending.set(key, job);
    return job;
  }
}
