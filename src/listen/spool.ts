// Where a form upload's file waits until it is whole and verified. A PutObject needs its length
// before the first byte, and a form's file length is only known at its closing boundary; so the
// file is kept in memory up to `inMemory` bytes and past that written to a private temporary
// file, with the memory of one chunk at a time (docs/post-uploads.md has the measurement). The
// provider is sent nothing until the last byte arrived and every check passed.
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';

export class Spool extends Writable {
  private parts: Buffer[] = [];
  private bytes = 0;
  private file?: FileHandle;
  private dir?: string;
  private path?: string;
  private disposed = false;

  constructor(private readonly inMemory: number, private readonly root = tmpdir()) {
    super({ highWaterMark: 64 * 1024 });
  }

  get length(): number {
    return this.bytes;
  }

  /** The whole file, when it stayed in memory. */
  get buffer(): Buffer | undefined {
    if (this.path) return undefined;
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bytes);
  }

  /** A fresh stream of what was written (call after 'finish'). */
  open(): Readable {
    if (this.disposed) throw new Error('spool already disposed');
    return this.path ? createReadStream(this.path, { highWaterMark: 64 * 1024 }) : Readable.from([this.buffer!]);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (!this.path && this.bytes <= this.inMemory) {
      this.parts.push(chunk);
      return cb();
    }
    this.toFile().then(() => writeAll(this.file!, chunk)).then(() => cb(), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    const f = this.file;
    this.file = undefined;
    if (!f) return cb();
    f.close().then(() => cb(), cb);
  }

  // A finished spool is destroyed too (autoDestroy) and must stay readable; only a failed one is
  // removed here. The owner disposes of the rest.
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!err) return cb(null);
    this.dispose().then(() => cb(err), () => cb(err));
  }

  /** Removes the temporary file; a stream already opened on it reads on (POSIX unlink). */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.parts = [];
    const f = this.file;
    this.file = undefined;
    await f?.close().catch(() => {});
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private async toFile(): Promise<void> {
    if (this.path) return;
    // A directory of its own, readable by this user only: the name cannot be guessed or raced.
    this.dir = await mkdtemp(join(this.root, 's3gate-post-'));
    this.path = join(this.dir, 'file');
    this.file = await open(this.path, 'wx', 0o600);
    for (const p of this.parts) await writeAll(this.file, p);
    this.parts = [];
  }
}

async function writeAll(f: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await f.write(buf, off, buf.length - off)).bytesWritten;
}
