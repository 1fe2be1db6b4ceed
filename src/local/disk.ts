// Where the local store's state lives on disk, and the only code that changes it.
//
// Layout: each top-level directory with a valid bucket name is a bucket. An object is a data file
// in the bucket directory plus a JSON sidecar under `<bucket>/.s3gate/meta/`. Every write spools
// its bytes to `<bucket>/.s3gate/tmp/`, renames them to a fresh data name (`<key file>~<hex>`),
// and then renames the new sidecar, which names that data file, into place. The sidecar's rename
// is the one commit point: a reader that read a sidecar reads exactly the bytes it describes, and
// a crash at any moment leaves the old object or the new one. What a crash can leave behind (temp
// files, a data file no sidecar names) is removed the first time this process touches the bucket.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { readFile as readFileCb } from 'node:fs';
import { dirname, join } from 'node:path';
import { S3Error } from '../s3/errors.js';
import { isNotFound } from './http.js';
import { fileNameKeyBytes, keyBytes, keyToFileName } from './keys.js';
import type { BucketMeta, ObjectMeta, PartMeta, StoredChecksum, UploadMeta } from './types.js';

export const SYS = '.s3gate';
const VERSIONED = /~[0-9a-f]{16}$/;
/** How long a completed upload's answer is kept for a retried CompleteMultipartUpload. */
const COMPLETED_KEPT_MS = 24 * 3600 * 1000;

/** A listed object: its key as UTF-8 bytes in a latin1 string (keys.ts' keyBytes), and its sidecar's file name. */
export interface ListedName {
  key: string;
  file: string;
}

export interface Spooled {
  path: string;
  md5: Buffer;
  size: number;
}

export interface CompletedUpload {
  key: string;
  etag: string;
  location: string;
  completed: number;
  checksum?: StoredChecksum;
  parts?: number;
}

// Several workers (src/workers/) may serve one store. Files a write has in flight carry the
// writer's pid, so a process sweeping after a crash removes only what a dead process (or itself,
// before it wrote anything there) left, never a live worker's write in progress.
const PID = process.pid.toString(16).padStart(8, '0').slice(-8);

function freshName(base: string): string {
  return `${base}~${PID}${randomBytes(4).toString('hex')}`;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // ours: nothing in flight where we sweep
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a file named by a writer (`<pid hex>-...` or `...~<pid hex><random>`) may be swept. */
function writerGone(name: string): boolean {
  const m = /^([0-9a-f]{8})-/.exec(name) ?? /~([0-9a-f]{8})[0-9a-f]{8}$/.exec(name);
  return m ? !alive(parseInt(m[1]!, 16)) : true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Disk {
  readonly root: string;
  // Writers of one object (and of one upload's parts) take turns, so a conditional write's check
  // and its commit are one step. Readers need no lock: the sidecar rename is atomic. In-process
  // only, like the store.
  private readonly locks = new Map<string, Promise<void>>();
  private readonly recovered = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.root = root;
  }

  // ---- paths -------------------------------------------------------------------------

  bucketDir(b: string): string {
    return join(this.root, b);
  }
  sysDir(b: string, ...rest: string[]): string {
    return join(this.root, b, SYS, ...rest);
  }
  metaPath(b: string, key: string): string {
    return this.sysDir(b, 'meta', keyToFileName(key) + '.json');
  }
  dataPath(b: string, meta: ObjectMeta): string {
    return join(this.root, b, meta.data ?? keyToFileName(meta.key));
  }
  /** The cross-process lock file of one key's writes. */
  keyLock(b: string, key: string): string {
    return this.sysDir(b, 'meta', keyToFileName(key) + '.lock');
  }
  uploadLock(b: string, uploadId: string): string {
    return this.uploadDir(b, uploadId) + '.lock';
  }
  uploadDir(b: string, uploadId: string): string {
    // Upload ids are ours (hex); anything else cannot name an upload and must not name a path.
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return this.sysDir(b, 'uploads', uploadId);
  }

  /**
   * Turns within this process (a promise chain) and across the processes serving the store (an
   * O_EXCL lock file holding the holder's pid; a dead holder's lock is broken), so a conditional
   * write's check and commit are one step even with several workers.
   */
  async withLock<T>(id: string, fn: () => Promise<T>, lockFile?: string): Promise<T> {
    return this.withTurn(id, async () => (lockFile ? this.withLockFile(lockFile, fn) : fn()));
  }

  private async withLockFile<T>(path: string, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        const fh = await open(path, 'wx');
        try {
          await fh.writeFile(String(process.pid));
        } finally {
          await fh.close();
        }
        break;
      } catch (e) {
        if (isNotFound(e) && i === 0) {
          await mkdir(dirname(path), { recursive: true });
          continue;
        }
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = Number(await readFile(path, 'utf8').catch(() => ''));
        if (holder > 0 && holder !== process.pid && !alive(holder)) await rm(path, { force: true });
        else await sleep(Math.min(1 + i, 20));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(path, { force: true });
    }
  }

  private async withTurn<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.locks.set(id, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  // ---- buckets -----------------------------------------------------------------------

  async requireBucket(b: string): Promise<void> {
    try {
      if ((await stat(this.bucketDir(b))).isDirectory()) {
        await this.recover(b);
        return;
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    throw new S3Error('NoSuchBucket', undefined, { BucketName: b });
  }

  /** A bucket this process just created has nothing to recover. */
  markRecovered(b: string): void {
    this.recovered.set(b, Promise.resolve());
  }

  async ensureSys(b: string): Promise<void> {
    await mkdir(this.sysDir(b, 'tmp'), { recursive: true });
    await mkdir(this.sysDir(b, 'meta'), { recursive: true });
    await mkdir(this.sysDir(b, 'uploads'), { recursive: true });
  }

  /** Reads the bucket's own metadata, or what the directory itself says for hand-made buckets. */
  async bucketMeta(b: string): Promise<BucketMeta> {
    try {
      return JSON.parse(await readFile(this.sysDir(b, 'bucket.json'), 'utf8')) as BucketMeta;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const st = await stat(this.bucketDir(b));
      return { created: st.birthtimeMs || st.mtimeMs, location: '' };
    }
  }

  async updateBucketMeta(b: string, change: (m: BucketMeta) => BucketMeta): Promise<void> {
    await this.requireBucket(b);
    await this.withLock(`bucket:${b}`, async () => {
      await this.ensureSys(b);
      await this.writeJsonAtomic(b, this.sysDir(b, 'bucket.json'), change(await this.bucketMeta(b)));
    });
  }

  // ---- objects -----------------------------------------------------------------------

  async readMeta(b: string, key: string): Promise<ObjectMeta> {
    const m = await this.findMeta(b, key);
    if (!m) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return m;
  }

  async findMeta(b: string, key: string): Promise<ObjectMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.metaPath(b, key), 'utf8')) as ObjectMeta;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Opens the object's data and sidecar as one consistent pair. */
  async openObject(b: string, key: string): Promise<{ meta: ObjectMeta; fh: FileHandle }> {
    await this.requireBucket(b);
    // A writer may replace the object between our reading its sidecar and opening the data the
    // sidecar names; the data is then gone and the new sidecar is in place, so read again.
    for (let attempt = 0; ; attempt++) {
      const meta = await this.readMeta(b, key);
      try {
        return { meta, fh: await open(this.dataPath(b, meta), 'r') };
      } catch (e) {
        if (!isNotFound(e)) throw e;
        if (attempt >= 100) throw new S3Error('NoSuchKey', undefined, { Key: key });
      }
    }
  }

  /**
   * Streams `source` into a fresh temp file, fsyncs it and returns its path and MD5. Any
   * failure of the source (error, premature close) removes the temp file before rethrowing.
   */
  async spool(b: string, source: AsyncIterable<Buffer | string>, observe?: (chunk: Buffer) => void): Promise<Spooled> {
    await this.ensureSys(b);
    const path = this.sysDir(b, 'tmp', `${PID}-${randomUUID()}`);
    const fh = await open(path, 'wx');
    const md5 = createHash('md5');
    let size = 0;
    try {
      for await (const c of source) {
        const chunk = typeof c === 'string' ? Buffer.from(c) : c;
        md5.update(chunk);
        observe?.(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(path, { force: true });
      throw e;
    }
    await fh.close();
    return { path, md5: md5.digest(), size };
  }

  async writeJsonAtomic(b: string, dest: string, value: unknown): Promise<void> {
    const tmp = this.sysDir(b, 'tmp', `${PID}-${randomUUID()}.json`);
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(JSON.stringify(value));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  }

  /**
   * Lands a spooled file as `meta.key`. `check` runs under the object's lock and sees the object
   * as it is at that moment, so a conditional write's test and its commit are one step.
   */
  async commit(b: string, meta: ObjectMeta, tmpData: string, check?: (current: ObjectMeta | undefined) => void): Promise<void> {
    try {
      await this.withLock(`${b}/${meta.key}`, async () => {
        const current = await this.findMeta(b, meta.key);
        check?.(current);
        await this.requireBucket(b);
        const name = freshName(keyToFileName(meta.key));
        await rename(tmpData, join(this.bucketDir(b), name));
        meta.data = name;
        await this.writeJsonAtomic(b, this.metaPath(b, meta.key), meta);
        if (current) await rm(this.dataPath(b, current), { force: true });
      }, this.keyLock(b, meta.key));
    } finally {
      await rm(tmpData, { force: true });
    }
  }

  /** Changes an object's sidecar only (tags, ACL): the bytes and their description stay. */
  async updateMeta(b: string, key: string, change: (m: ObjectMeta) => ObjectMeta): Promise<ObjectMeta> {
    await this.requireBucket(b);
    return this.withLock(`${b}/${key}`, async () => {
      const next = change(await this.readMeta(b, key));
      await this.ensureSys(b);
      await this.writeJsonAtomic(b, this.metaPath(b, key), next);
      return next;
    }, this.keyLock(b, key));
  }

  /** `check` sees the object under its lock (a conditional delete), and may refuse. */
  async removeObject(b: string, key: string, check?: (current: ObjectMeta | undefined) => void): Promise<void> {
    await this.withLock(`${b}/${key}`, async () => {
      const current = await this.findMeta(b, key);
      check?.(current);
      // Sidecar first: once it is gone the object is gone, whatever happens to the data.
      await rm(this.metaPath(b, key), { force: true });
      await rm(current ? this.dataPath(b, current) : join(this.bucketDir(b), keyToFileName(key)), { force: true });
    }, this.keyLock(b, key));
  }

  /**
   * Every object's key (as UTF-8 bytes, keys.ts' fileNameKeyBytes) and sidecar, read off the
   * sidecars' names: a listing reads the sidecars of the page it answers, not of the bucket.
   * (s3fs asks `?prefix=dir/&delimiter=/&max-keys=2` for nearly every lookup: reading all 1,200
   * sidecars of a bucket took 167 ms a listing.) Only a key too long for a file name, whose
   * sidecar is named by its hash, is read to learn it.
   */
  async objectNames(b: string): Promise<ListedName[]> {
    let names: string[];
    try {
      names = await readdir(this.sysDir(b, 'meta'));
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
    const out: ListedName[] = [];
    for (const file of names) {
      if (!file.endsWith('.json')) continue;
      if (!file.startsWith('~')) {
        out.push({ key: fileNameKeyBytes(file.slice(0, -5)), file });
        continue;
      }
      const meta = await this.readSidecar(b, file);
      if (meta) out.push({ key: keyBytes(meta.key), file });
    }
    return out;
  }

  /** The sidecars of listed names, in their order; one deleted since it was listed is left out. */
  async readListed(b: string, listed: readonly ListedName[]): Promise<ObjectMeta[]> {
    const metas: (ObjectMeta | undefined)[] = new Array(listed.length);
    let next = 0;
    // 32 reads at a time: a page of 1,000 at once would hold 1,000 descriptors. fs.readFile's
    // callback form: a page of 1,000 sidecars in 32 ms here, against 106 ms for fs/promises'
    // readFile 16 at a time (its read loop is a promise per step).
    const reader = async () => {
      while (next < listed.length) {
        const i = next++;
        metas[i] = await this.readSidecar(b, listed[i]!.file);
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, listed.length) }, reader));
    return metas.filter((m): m is ObjectMeta => m !== undefined);
  }

  private readSidecar(b: string, file: string): Promise<ObjectMeta | undefined> {
    return new Promise((resolve, reject) => {
      readFileCb(this.sysDir(b, 'meta', file), 'utf8', (e, text) => {
        if (!e) {
          try {
            resolve(JSON.parse(text) as ObjectMeta);
          } catch (parse) {
            reject(parse);
          }
        } else if (isNotFound(e)) resolve(undefined); // deleted while we listed
        else reject(e);
      });
    });
  }

  async allObjects(b: string): Promise<ObjectMeta[]> {
    return this.readListed(b, await this.objectNames(b));
  }

  // ---- multipart ---------------------------------------------------------------------

  async readUpload(b: string, key: string, uploadId: string): Promise<UploadMeta> {
    await this.requireBucket(b);
    const dir = this.uploadDir(b, uploadId);
    try {
      const u = JSON.parse(await readFile(join(dir, 'upload.json'), 'utf8')) as UploadMeta;
      if (u.key === key && (await this.completedUpload(b, uploadId)) === undefined) return u;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
  }

  async completedUpload(b: string, uploadId: string): Promise<CompletedUpload | undefined> {
    try {
      return JSON.parse(await readFile(join(this.uploadDir(b, uploadId), 'completed.json'), 'utf8')) as CompletedUpload;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Records a completed upload's answer and drops its parts. */
  async markCompleted(b: string, uploadId: string, done: CompletedUpload): Promise<void> {
    const dir = this.uploadDir(b, uploadId);
    await this.writeJsonAtomic(b, join(dir, 'completed.json'), done);
    for (const n of await readdir(dir)) if (n !== 'completed.json' && n !== 'upload.json') await rm(join(dir, n), { force: true });
  }

  async readParts(b: string, uploadId: string): Promise<PartMeta[]> {
    const dir = this.uploadDir(b, uploadId);
    const parts: PartMeta[] = [];
    for (const n of await readdir(dir)) {
      if (!/^\d+\.json$/.test(n)) continue;
      try {
        parts.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as PartMeta);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return parts.sort((x, y) => x.partNumber - y.partNumber);
  }

  partPath(b: string, uploadId: string, p: PartMeta): string {
    return join(this.uploadDir(b, uploadId), p.data ?? String(p.partNumber));
  }

  /**
   * Lands a spooled part. Racing uploads of one part take turns here, and the part's sidecar names
   * its own data file, so whichever upload finishes last is the part, bytes and ETag together.
   */
  async commitPart(b: string, uploadId: string, part: PartMeta, tmpData: string): Promise<void> {
    const dir = this.uploadDir(b, uploadId);
    try {
      await this.withLock(`upload:${uploadId}`, async () => {
        if ((await this.completedUpload(b, uploadId)) !== undefined) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
        let previous: PartMeta | undefined;
        try {
          previous = JSON.parse(await readFile(join(dir, `${part.partNumber}.json`), 'utf8')) as PartMeta;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        part.data = freshName(String(part.partNumber));
        await rename(tmpData, join(dir, part.data));
        await this.writeJsonAtomic(b, join(dir, `${part.partNumber}.json`), part);
        if (previous) await rm(this.partPath(b, uploadId, previous), { force: true });
      }, this.uploadLock(b, uploadId));
    } catch (e) {
      if (isNotFound(e)) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
      throw e;
    } finally {
      await rm(tmpData, { force: true });
    }
  }

  // ---- recovery ----------------------------------------------------------------------

  private recover(b: string): Promise<void> {
    let p = this.recovered.get(b);
    if (!p) {
      p = this.sweep(b);
      this.recovered.set(b, p);
      p.catch(() => this.recovered.delete(b));
    }
    return p;
  }

  /** Removes what a crashed process left: temp files and data files no sidecar names. */
  private async sweep(b: string): Promise<void> {
    const list = async (dir: string): Promise<string[]> => {
      try {
        return await readdir(dir);
      } catch (e) {
        if (isNotFound(e)) return [];
        throw e;
      }
    };
    for (const n of await list(this.sysDir(b, 'tmp'))) if (writerGone(n)) await rm(this.sysDir(b, 'tmp', n), { force: true, recursive: true });
    const named = new Set((await this.allObjects(b)).map((m) => m.data).filter((d): d is string => d !== undefined));
    for (const n of await list(this.bucketDir(b))) {
      if (VERSIONED.test(n) && !named.has(n) && writerGone(n)) await rm(join(this.bucketDir(b), n), { force: true });
    }
    for (const id of await list(this.sysDir(b, 'uploads'))) {
      if (!/^[0-9a-f]{32}$/.test(id)) continue;
      const done = await this.completedUpload(b, id);
      if (done && Date.now() - done.completed > COMPLETED_KEPT_MS) {
        await rm(this.uploadDir(b, id), { recursive: true, force: true });
        continue;
      }
      const parts = new Set((await this.readParts(b, id)).map((p) => p.data).filter((d): d is string => d !== undefined));
      for (const n of await list(this.uploadDir(b, id))) {
        if (VERSIONED.test(n) && !parts.has(n) && writerGone(n)) await rm(join(this.uploadDir(b, id), n), { force: true });
      }
    }
  }
}
