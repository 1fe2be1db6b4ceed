import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Error } from '../s3/errors.js';
import { compareKeys, keyToFileName, validateBucket, validateKey } from './keys.js';
import { paginate, urlEncodeKey } from './list.js';
import { requireRoot, xmlBlocks, xmlDocument, xmlLeaf, type XmlNode } from './xml.js';

export interface LocalRequest {
  method: string;
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  /** lower-case names */
  headers: Record<string, string>;
  /** already authenticated, decoded, verified */
  body: NodeJS.ReadableStream;
}

export interface LocalResponse {
  status: number;
  headers: Record<string, string>;
  body?: NodeJS.ReadableStream | Buffer | string;
}

interface ObjectMeta {
  key: string;
  size: number;
  /** quoted, as sent in the ETag header */
  etag: string;
  lastModified: number;
  /** content-* headers, cache-control, expires and x-amz-meta-* as the client sent them */
  headers: Record<string, string>;
}

interface UploadMeta {
  key: string;
  uploadId: string;
  initiated: number;
  headers: Record<string, string>;
}

interface PartMeta {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: number;
}

interface BucketMeta {
  created: number;
  location: string;
}

const SYS = '.s3gate';
const MIN_PART = 5 * 1024 * 1024;
const MAX_XML_BODY = 16 * 1024 * 1024;
const OWNER = { ID: 's3gate-local', DisplayName: 's3gate-local' };
const STORED_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'];

function xml(status: number, root: string, body: Record<string, XmlNode>, headers: Record<string, string> = {}): LocalResponse {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: xmlDocument(root, body) };
}

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function md5Quoted(hex: string): string {
  return `"${hex}"`;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** HTTP dates carry whole seconds, so comparisons against them must too. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : seconds(t);
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => t.trim() === '*' || unquote(t) === unquote(etag));
}

function storedHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    const n = name.toLowerCase();
    if (n.startsWith('x-amz-meta-') || STORED_HEADERS.includes(n)) out[n] = value;
  }
  // aws-chunked describes the transfer, not the object; S3 drops it from the stored encoding.
  if (out['content-encoding'] !== undefined) {
    const rest = out['content-encoding'].split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked');
    if (rest.length) out['content-encoding'] = rest.join(', ');
    else delete out['content-encoding'];
  }
  out['content-type'] ??= 'binary/octet-stream';
  return out;
}

function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: v });
  return Math.min(Number(v), max);
}

/** Single-range `bytes=` only; anything S3 would ignore yields undefined (whole object). */
function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined {
  if (h === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const invalid = () => new S3Error('InvalidRange', undefined, { RangeRequested: h, ActualObjectSize: String(size) });
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw invalid();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw invalid();
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

async function readSmall(body: NodeJS.ReadableStream, limit = MAX_XML_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer | string>) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > limit) throw new S3Error('MalformedXML', 'Request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, URL-encoded. */
function parseCopySource(v: string): { bucket: string; key: string } {
  const raw = v.split('?')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
  const s = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const at = s.indexOf('/');
  if (at <= 0 || at === s.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  return { bucket: s.slice(0, at), key: s.slice(at + 1) };
}

/**
 * A directory served as S3 buckets. Each top-level directory with a valid bucket name is a
 * bucket; objects are files named by `keyToFileName`, described by a JSON sidecar under
 * `<bucket>/.s3gate/meta/`. The sidecar is the commit point: an object exists once its
 * sidecar does, and every write lands both files by rename from `<bucket>/.s3gate/tmp/`.
 */
export class LocalStore {
  readonly root: string;
  // Data and sidecar are two renames; serialising them per object keeps a reader from
  // pairing one write's bytes with another's sidecar. In-process only, like the store.
  private readonly locks = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.root = root;
  }

  async handle(req: LocalRequest): Promise<LocalResponse> {
    const method = req.method.toUpperCase();
    const q = req.query;
    if (req.bucket === undefined || req.bucket === '') {
      if (method === 'GET') return this.listBuckets();
      throw new S3Error('MethodNotAllowed');
    }
    const bucket = validateBucket(req.bucket);
    if (req.key === undefined || req.key === '') {
      switch (method) {
        case 'PUT':
          if (q.size > 0) throw new S3Error('NotImplemented', `Bucket subresource ${[...q.keys()].join(',')} is not supported by the local store`);
          return this.createBucket(bucket, req.body);
        case 'DELETE':
          return this.deleteBucket(bucket);
        case 'HEAD':
          return this.headBucket(bucket);
        case 'GET':
          if (q.has('location')) return this.getBucketLocation(bucket);
          if (q.has('uploads')) return this.listMultipartUploads(bucket, q);
          if (q.get('list-type') === '2') return this.listObjects(bucket, q, 2);
          for (const sub of ['acl', 'policy', 'versioning', 'versions', 'tagging', 'cors', 'lifecycle', 'website', 'encryption', 'object-lock', 'logging', 'notification', 'replication', 'ownershipControls', 'publicAccessBlock']) {
            if (q.has(sub)) throw new S3Error('NotImplemented', `Bucket subresource ${sub} is not supported by the local store`);
          }
          return this.listObjects(bucket, q, 1);
        case 'POST':
          if (q.has('delete')) return this.deleteObjects(bucket, req.body);
          throw new S3Error('MethodNotAllowed');
        default:
          throw new S3Error('MethodNotAllowed');
      }
    }
    const key = validateKey(req.key);
    const uploadId = q.get('uploadId');
    switch (method) {
      case 'PUT':
        if (uploadId !== null) return this.uploadPart(bucket, key, uploadId, q, req);
        if (req.headers['x-amz-copy-source'] !== undefined) return this.copyObject(bucket, key, req.headers);
        return this.putObject(bucket, key, req);
      case 'GET':
        if (uploadId !== null) return this.listParts(bucket, key, uploadId, q);
        return this.getObject(bucket, key, req, true);
      case 'HEAD':
        return this.getObject(bucket, key, req, false);
      case 'DELETE':
        if (uploadId !== null) return this.abortMultipartUpload(bucket, key, uploadId);
        return this.deleteObject(bucket, key);
      case 'POST':
        if (q.has('uploads')) return this.createMultipartUpload(bucket, key, req.headers);
        if (uploadId !== null) return this.completeMultipartUpload(bucket, key, uploadId, req.body);
        throw new S3Error('MethodNotAllowed');
      default:
        throw new S3Error('MethodNotAllowed');
    }
  }

  // ---- paths -------------------------------------------------------------------------

  private bucketDir(b: string): string {
    return join(this.root, b);
  }
  private sysDir(b: string, ...rest: string[]): string {
    return join(this.root, b, SYS, ...rest);
  }
  private dataPath(b: string, key: string): string {
    return join(this.root, b, keyToFileName(key));
  }
  private metaPath(b: string, key: string): string {
    return this.sysDir(b, 'meta', keyToFileName(key) + '.json');
  }
  private uploadDir(b: string, uploadId: string): string {
    // Upload ids are ours (hex); anything else cannot name an upload and must not name a path.
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return this.sysDir(b, 'uploads', uploadId);
  }

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
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

  private async requireBucket(b: string): Promise<void> {
    try {
      if ((await stat(this.bucketDir(b))).isDirectory()) return;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    throw new S3Error('NoSuchBucket', undefined, { BucketName: b });
  }

  private async ensureSys(b: string): Promise<void> {
    await mkdir(this.sysDir(b, 'tmp'), { recursive: true });
    await mkdir(this.sysDir(b, 'meta'), { recursive: true });
    await mkdir(this.sysDir(b, 'uploads'), { recursive: true });
  }

  private async readMeta(b: string, key: string): Promise<ObjectMeta> {
    try {
      return JSON.parse(await readFile(this.metaPath(b, key), 'utf8')) as ObjectMeta;
    } catch (e) {
      if (isNotFound(e)) throw new S3Error('NoSuchKey', undefined, { Key: key });
      throw e;
    }
  }

  /** Reads the bucket's own metadata, or what the directory itself says for hand-made buckets. */
  private async bucketMeta(b: string): Promise<BucketMeta> {
    try {
      return JSON.parse(await readFile(this.sysDir(b, 'bucket.json'), 'utf8')) as BucketMeta;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const st = await stat(this.bucketDir(b));
      return { created: st.birthtimeMs || st.mtimeMs, location: '' };
    }
  }

  // ---- atomic writes -----------------------------------------------------------------

  /**
   * Streams `source` into a fresh temp file, fsyncs it and returns its path and MD5. Any
   * failure of the source (error, premature close) removes the temp file before rethrowing.
   */
  private async spool(b: string, source: AsyncIterable<Buffer | string>): Promise<{ path: string; md5: Buffer; size: number }> {
    await this.ensureSys(b);
    const path = this.sysDir(b, 'tmp', randomUUID());
    const fh = await open(path, 'wx');
    const md5 = createHash('md5');
    let size = 0;
    try {
      for await (const c of source) {
        const chunk = typeof c === 'string' ? Buffer.from(c) : c;
        md5.update(chunk);
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

  private async writeJsonAtomic(b: string, dest: string, value: unknown): Promise<void> {
    const tmp = this.sysDir(b, 'tmp', randomUUID() + '.json');
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(JSON.stringify(value));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  }

  /** Lands a spooled file as `key`; `check` runs under the object's lock for conditional writes. */
  private async commit(b: string, meta: ObjectMeta, tmpData: string, check?: (current: ObjectMeta | undefined) => void): Promise<void> {
    try {
      await this.withLock(`${b}/${meta.key}`, async () => {
        if (check) {
          let current: ObjectMeta | undefined;
          try {
            current = await this.readMeta(b, meta.key);
          } catch (e) {
            if (!(e instanceof S3Error && e.code === 'NoSuchKey')) throw e;
          }
          check(current);
        }
        await this.requireBucket(b);
        await rename(tmpData, this.dataPath(b, meta.key));
        await this.writeJsonAtomic(b, this.metaPath(b, meta.key), meta);
      });
    } finally {
      await rm(tmpData, { force: true });
    }
  }

  // ---- buckets -----------------------------------------------------------------------

  private async listBuckets(): Promise<LocalResponse> {
    await mkdir(this.root, { recursive: true });
    const entries = await readdir(this.root, { withFileTypes: true });
    const buckets: { Name: string; CreationDate: string }[] = [];
    for (const d of entries) {
      if (!d.isDirectory()) continue;
      try {
        validateBucket(d.name);
      } catch {
        continue;
      }
      const meta = await this.bucketMeta(d.name);
      buckets.push({ Name: d.name, CreationDate: new Date(meta.created).toISOString() });
    }
    buckets.sort((a, b) => compareKeys(a.Name, b.Name));
    return xml(200, 'ListAllMyBucketsResult', { Owner: OWNER, Buckets: { Bucket: buckets } });
  }

  private async createBucket(b: string, body: NodeJS.ReadableStream): Promise<LocalResponse> {
    const config = await readSmall(body, 64 * 1024);
    const location = config.trim() ? (xmlLeaf(config, 'LocationConstraint') ?? '') : '';
    await mkdir(this.root, { recursive: true });
    try {
      await mkdir(this.bucketDir(b));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: b });
      throw e;
    }
    await this.ensureSys(b);
    await this.writeJsonAtomic(b, this.sysDir(b, 'bucket.json'), { created: Date.now(), location } satisfies BucketMeta);
    return { status: 200, headers: { location: `/${b}` } };
  }

  private async deleteBucket(b: string): Promise<LocalResponse> {
    await this.requireBucket(b);
    const names = await readdir(this.bucketDir(b));
    if (names.some((n) => n !== SYS)) throw new S3Error('BucketNotEmpty', undefined, { BucketName: b });
    // A PUT racing this delete may have a temp file; its commit then fails with NoSuchBucket.
    await rm(this.sysDir(b), { recursive: true, force: true });
    try {
      await rmdir(this.bucketDir(b));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTEMPTY') throw new S3Error('BucketNotEmpty', undefined, { BucketName: b });
      throw e;
    }
    return { status: 204, headers: {} };
  }

  private async headBucket(b: string): Promise<LocalResponse> {
    await this.requireBucket(b);
    const meta = await this.bucketMeta(b);
    return { status: 200, headers: { 'x-amz-bucket-region': meta.location || 'us-east-1' } };
  }

  private async getBucketLocation(b: string): Promise<LocalResponse> {
    await this.requireBucket(b);
    const meta = await this.bucketMeta(b);
    return {
      status: 200,
      headers: { 'content-type': 'application/xml' },
      body: xmlDocument('LocationConstraint', {}).replace('></LocationConstraint>', `>${meta.location}</LocationConstraint>`),
    };
  }

  // ---- listing -----------------------------------------------------------------------

  private async allObjects(b: string): Promise<ObjectMeta[]> {
    let names: string[];
    try {
      names = await readdir(this.sysDir(b, 'meta'));
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
    const out: ObjectMeta[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await readFile(this.sysDir(b, 'meta', n), 'utf8')) as ObjectMeta);
      } catch (e) {
        if (!isNotFound(e)) throw e; // deleted while we listed
      }
    }
    return out.sort((x, y) => compareKeys(x.key, y.key));
  }

  private async listObjects(b: string, q: URLSearchParams, version: 1 | 2): Promise<LocalResponse> {
    await this.requireBucket(b);
    const encodingType = q.get('encoding-type') ?? undefined;
    if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: encodingType });
    const enc = (s: string | undefined) => (s === undefined || encodingType !== 'url' ? s : urlEncodeKey(s));
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') || undefined;
    const maxKeys = intParam(q, 'max-keys', 1000, 1000);
    let after: string | undefined;
    const token = q.get('continuation-token');
    const startAfter = q.get('start-after') ?? undefined;
    const marker = q.get('marker') ?? undefined;
    if (version === 2) {
      if (token !== null) {
        after = Buffer.from(token, 'base64url').toString('utf8');
        if (!token || Buffer.from(after, 'utf8').toString('base64url') !== token) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
      } else after = startAfter || undefined;
    } else after = marker || undefined;

    const page = paginate(await this.allObjects(b), { prefix, delimiter, after, maxKeys });
    const contents = page.contents.map((o) => ({
      Key: enc(o.key),
      LastModified: new Date(o.lastModified).toISOString(),
      ETag: o.etag,
      Size: o.size,
      Owner: version === 1 || q.get('fetch-owner') === 'true' ? OWNER : undefined,
      StorageClass: 'STANDARD',
    }));
    const commonPrefixes = page.commonPrefixes.map((p) => ({ Prefix: enc(p) }));
    if (version === 1) {
      return xml(200, 'ListBucketResult', {
        Name: b,
        Prefix: enc(prefix),
        Marker: enc(marker ?? ''),
        NextMarker: page.isTruncated ? enc(page.last) : undefined,
        MaxKeys: maxKeys,
        Delimiter: enc(delimiter),
        IsTruncated: page.isTruncated,
        EncodingType: encodingType,
        Contents: contents,
        CommonPrefixes: commonPrefixes,
      });
    }
    return xml(200, 'ListBucketResult', {
      Name: b,
      Prefix: enc(prefix),
      MaxKeys: maxKeys,
      KeyCount: contents.length + commonPrefixes.length,
      Delimiter: enc(delimiter),
      IsTruncated: page.isTruncated,
      EncodingType: encodingType,
      ContinuationToken: token ?? undefined,
      NextContinuationToken: page.isTruncated && page.last !== undefined ? Buffer.from(page.last, 'utf8').toString('base64url') : undefined,
      StartAfter: enc(startAfter),
      Contents: contents,
      CommonPrefixes: commonPrefixes,
    });
  }

  // ---- objects -----------------------------------------------------------------------

  private async putObject(b: string, key: string, req: LocalRequest): Promise<LocalResponse> {
    await this.requireBucket(b);
    const h = req.headers;
    const spooled = await this.spool(b, req.body as AsyncIterable<Buffer>);
    try {
      const expected = h['x-amz-decoded-content-length'] ?? (h['content-encoding']?.includes('aws-chunked') ? undefined : h['content-length']);
      if (expected !== undefined && Number(expected) !== spooled.size) throw new S3Error('IncompleteBody');
      const md5 = h['content-md5'];
      if (md5 !== undefined && md5 !== spooled.md5.toString('base64')) {
        if (Buffer.from(md5, 'base64').length !== 16) throw new S3Error('InvalidDigest');
        throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', { ExpectedDigest: md5 });
      }
    } catch (e) {
      await rm(spooled.path, { force: true });
      throw e;
    }
    const meta: ObjectMeta = { key, size: spooled.size, etag: md5Quoted(spooled.md5.toString('hex')), lastModified: Date.now(), headers: storedHeaders(h) };
    await this.commit(b, meta, spooled.path, (current) => this.checkWritePreconditions(h, current));
    return { status: 200, headers: { etag: meta.etag } };
  }

  /** Conditional writes (If-None-Match: * and If-Match on PUT) as S3 now supports them. */
  private checkWritePreconditions(h: Record<string, string>, current: ObjectMeta | undefined): void {
    const inm = h['if-none-match'];
    if (inm !== undefined && current && etagListMatches(inm, current.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    const im = h['if-match'];
    if (im !== undefined) {
      if (!current) throw new S3Error('NoSuchKey');
      if (!etagListMatches(im, current.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }

  /** Opens the object's data and sidecar as one consistent pair. */
  private async openObject(b: string, key: string): Promise<{ meta: ObjectMeta; fh: FileHandle }> {
    await this.requireBucket(b);
    return this.withLock(`${b}/${key}`, async () => {
      const meta = await this.readMeta(b, key);
      try {
        return { meta, fh: await open(this.dataPath(b, key), 'r') };
      } catch (e) {
        if (isNotFound(e)) throw new S3Error('NoSuchKey', undefined, { Key: key });
        throw e;
      }
    });
  }

  private async getObject(b: string, key: string, req: LocalRequest, withBody: boolean): Promise<LocalResponse> {
    const { meta, fh } = await this.openObject(b, key);
    let handedOff = false;
    try {
      const h = req.headers;
      const lm = seconds(meta.lastModified);
      const base: Record<string, string> = { etag: meta.etag, 'last-modified': httpDate(meta.lastModified) };
      // RFC 7232 order: If-Match beats If-Unmodified-Since, If-None-Match beats If-Modified-Since.
      if (h['if-match'] !== undefined) {
        if (!etagListMatches(h['if-match'], meta.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
      } else {
        const ius = parseHttpDate(h['if-unmodified-since']);
        if (ius !== undefined && lm > ius) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
      }
      if (h['if-none-match'] !== undefined) {
        if (etagListMatches(h['if-none-match'], meta.etag)) return { status: 304, headers: base };
      } else {
        const ims = parseHttpDate(h['if-modified-since']);
        if (ims !== undefined && lm <= ims) return { status: 304, headers: base };
      }

      const headers: Record<string, string> = { ...meta.headers, ...base, 'accept-ranges': 'bytes' };
      const q = req.query;
      for (const name of ['content-type', 'content-language', 'expires', 'cache-control', 'content-disposition', 'content-encoding']) {
        const v = q.get(`response-${name}`);
        if (v !== null) headers[name] = v;
      }
      const range = parseRange(h['range'], meta.size);
      let status = 200;
      let start = 0;
      let end = meta.size - 1;
      if (range) {
        status = 206;
        ({ start, end } = range);
        headers['content-range'] = `bytes ${start}-${end}/${meta.size}`;
      }
      headers['content-length'] = String(end - start + 1);
      if (!withBody || end < start) return { status, headers, body: withBody ? '' : undefined };
      handedOff = true;
      return { status, headers, body: fh.createReadStream({ start, end, autoClose: true }) };
    } finally {
      if (!handedOff) await fh.close();
    }
  }

  private async deleteObject(b: string, key: string): Promise<LocalResponse> {
    await this.requireBucket(b);
    await this.removeObject(b, key);
    return { status: 204, headers: {} };
  }

  private async removeObject(b: string, key: string): Promise<void> {
    await this.withLock(`${b}/${key}`, async () => {
      // Sidecar first: once it is gone the object is gone, whatever happens to the data.
      await rm(this.metaPath(b, key), { force: true });
      await rm(this.dataPath(b, key), { force: true });
    });
  }

  private async deleteObjects(b: string, body: NodeJS.ReadableStream): Promise<LocalResponse> {
    await this.requireBucket(b);
    const doc = await readSmall(body);
    requireRoot(doc, 'Delete');
    const quiet = xmlLeaf(doc, 'Quiet') === 'true';
    const objects = xmlBlocks(doc, 'Object');
    if (objects.length === 0 || objects.length > 1000) throw new S3Error('MalformedXML');
    const deleted: { Key: string }[] = [];
    const errors: { Key: string; Code: string; Message: string }[] = [];
    for (const o of objects) {
      const key = xmlLeaf(o, 'Key');
      if (key === undefined) throw new S3Error('MalformedXML');
      try {
        validateKey(key);
        await this.removeObject(b, key);
        deleted.push({ Key: key });
      } catch (e) {
        if (!(e instanceof S3Error)) throw e;
        errors.push({ Key: key, Code: e.code, Message: e.message });
      }
    }
    return xml(200, 'DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors });
  }

  private async copyObject(b: string, key: string, h: Record<string, string>): Promise<LocalResponse> {
    const src = parseCopySource(h['x-amz-copy-source'] ?? '');
    validateBucket(src.bucket);
    validateKey(src.key);
    await this.requireBucket(b);
    const directive = (h['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
    if (src.bucket === b && src.key === key && directive === 'COPY') {
      throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
    }
    const { meta: srcMeta, fh } = await this.openObject(src.bucket, src.key);
    let spooled: Awaited<ReturnType<LocalStore['spool']>>;
    try {
      this.checkCopySourceConditions(h, srcMeta);
      spooled = await this.spool(b, fh.createReadStream({ autoClose: false }));
    } finally {
      await fh.close();
    }
    const meta: ObjectMeta = {
      key,
      size: spooled.size,
      etag: md5Quoted(spooled.md5.toString('hex')),
      lastModified: Date.now(),
      headers: directive === 'REPLACE' ? storedHeaders(h) : srcMeta.headers,
    };
    await this.commit(b, meta, spooled.path);
    return xml(200, 'CopyObjectResult', { LastModified: new Date(meta.lastModified).toISOString(), ETag: meta.etag });
  }

  private checkCopySourceConditions(h: Record<string, string>, src: ObjectMeta): void {
    const lm = seconds(src.lastModified);
    const fail = (c: string) => new S3Error('PreconditionFailed', undefined, { Condition: c });
    const im = h['x-amz-copy-source-if-match'];
    const inm = h['x-amz-copy-source-if-none-match'];
    const ius = parseHttpDate(h['x-amz-copy-source-if-unmodified-since']);
    const ims = parseHttpDate(h['x-amz-copy-source-if-modified-since']);
    if (im !== undefined && !etagListMatches(im, src.etag)) throw fail('x-amz-copy-source-If-Match');
    if (im === undefined && ius !== undefined && lm > ius) throw fail('x-amz-copy-source-If-Unmodified-Since');
    if (inm !== undefined && etagListMatches(inm, src.etag)) throw fail('x-amz-copy-source-If-None-Match');
    if (inm === undefined && ims !== undefined && lm <= ims) throw fail('x-amz-copy-source-If-Modified-Since');
  }

  // ---- multipart ---------------------------------------------------------------------

  private async readUpload(b: string, key: string, uploadId: string): Promise<UploadMeta> {
    await this.requireBucket(b);
    const dir = this.uploadDir(b, uploadId);
    try {
      const u = JSON.parse(await readFile(join(dir, 'upload.json'), 'utf8')) as UploadMeta;
      if (u.key === key) return u;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
  }

  private async createMultipartUpload(b: string, key: string, h: Record<string, string>): Promise<LocalResponse> {
    await this.requireBucket(b);
    await this.ensureSys(b);
    const uploadId = randomUUID().replace(/-/g, '');
    const dir = this.uploadDir(b, uploadId);
    await mkdir(dir);
    const u: UploadMeta = { key, uploadId, initiated: Date.now(), headers: storedHeaders(h) };
    await writeFile(join(dir, 'upload.json'), JSON.stringify(u));
    return xml(200, 'InitiateMultipartUploadResult', { Bucket: b, Key: key, UploadId: uploadId });
  }

  private async uploadPart(b: string, key: string, uploadId: string, q: URLSearchParams, req: LocalRequest): Promise<LocalResponse> {
    const pn = q.get('partNumber') ?? '';
    if (!/^\d+$/.test(pn) || Number(pn) < 1 || Number(pn) > 10000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: pn });
    }
    const partNumber = Number(pn);
    await this.readUpload(b, key, uploadId);
    const h = req.headers;
    const copySource = h['x-amz-copy-source'];
    let spooled: Awaited<ReturnType<LocalStore['spool']>>;
    let copyResult = false;
    if (copySource !== undefined) {
      const src = parseCopySource(copySource);
      validateBucket(src.bucket);
      validateKey(src.key);
      const { meta: srcMeta, fh } = await this.openObject(src.bucket, src.key);
      try {
        this.checkCopySourceConditions(h, srcMeta);
        let start = 0;
        let end = srcMeta.size - 1;
        const r = h['x-amz-copy-source-range'];
        if (r !== undefined) {
          const m = /^bytes=(\d+)-(\d+)$/.exec(r.trim());
          if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= srcMeta.size) {
            throw new S3Error('InvalidRange', undefined, { RangeRequested: r, ActualObjectSize: String(srcMeta.size) });
          }
          start = Number(m[1]);
          end = Number(m[2]);
        }
        spooled = await this.spool(b, end < start ? (async function* () {})() : fh.createReadStream({ start, end, autoClose: false }));
      } finally {
        await fh.close();
      }
      copyResult = true;
    } else {
      spooled = await this.spool(b, req.body as AsyncIterable<Buffer>);
      const expected = h['x-amz-decoded-content-length'] ?? (h['content-encoding']?.includes('aws-chunked') ? undefined : h['content-length']);
      const md5 = h['content-md5'];
      if ((expected !== undefined && Number(expected) !== spooled.size) || (md5 !== undefined && md5 !== spooled.md5.toString('base64'))) {
        await rm(spooled.path, { force: true });
        throw expected !== undefined && Number(expected) !== spooled.size ? new S3Error('IncompleteBody') : new S3Error('BadDigest');
      }
    }
    const part: PartMeta = { partNumber, etag: md5Quoted(spooled.md5.toString('hex')), size: spooled.size, lastModified: Date.now() };
    const dir = this.uploadDir(b, uploadId);
    try {
      await this.withLock(`upload:${uploadId}`, async () => {
        await rename(spooled.path, join(dir, String(partNumber)));
        await writeFile(join(dir, `${partNumber}.json`), JSON.stringify(part));
      });
    } catch (e) {
      await rm(spooled.path, { force: true });
      if (isNotFound(e)) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
      throw e;
    }
    if (copyResult) return xml(200, 'CopyPartResult', { LastModified: new Date(part.lastModified).toISOString(), ETag: part.etag });
    return { status: 200, headers: { etag: part.etag } };
  }

  private async readParts(b: string, uploadId: string): Promise<PartMeta[]> {
    const dir = this.uploadDir(b, uploadId);
    const parts: PartMeta[] = [];
    for (const n of await readdir(dir)) {
      if (!/^\d+\.json$/.test(n)) continue;
      parts.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as PartMeta);
    }
    return parts.sort((x, y) => x.partNumber - y.partNumber);
  }

  private async listParts(b: string, key: string, uploadId: string, q: URLSearchParams): Promise<LocalResponse> {
    await this.readUpload(b, key, uploadId);
    const maxParts = intParam(q, 'max-parts', 1000, 1000);
    const marker = intParam(q, 'part-number-marker', 0, 10000);
    const all = (await this.readParts(b, uploadId)).filter((p) => p.partNumber > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    return xml(200, 'ListPartsResult', {
      Bucket: b,
      Key: key,
      UploadId: uploadId,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length ? page[page.length - 1]!.partNumber : marker,
      MaxParts: maxParts,
      IsTruncated: truncated,
      Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: new Date(p.lastModified).toISOString(), ETag: p.etag, Size: p.size })),
    });
  }

  private async completeMultipartUpload(b: string, key: string, uploadId: string, body: NodeJS.ReadableStream): Promise<LocalResponse> {
    const upload = await this.readUpload(b, key, uploadId);
    const doc = await readSmall(body);
    requireRoot(doc, 'CompleteMultipartUpload');
    const requested = xmlBlocks(doc, 'Part').map((p) => ({ partNumber: Number(xmlLeaf(p, 'PartNumber')), etag: xmlLeaf(p, 'ETag') ?? '' }));
    if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    return this.withLock(`upload:${uploadId}`, async () => {
      await this.readUpload(b, key, uploadId); // completed or aborted while we waited
      const have = new Map((await this.readParts(b, uploadId)).map((p) => [p.partNumber, p]));
      const chosen: PartMeta[] = [];
      let prev = 0;
      for (const r of requested) {
        if (!Number.isInteger(r.partNumber) || r.partNumber <= prev) throw new S3Error('InvalidPartOrder');
        prev = r.partNumber;
        const p = have.get(r.partNumber);
        if (!p || unquote(p.etag) !== unquote(r.etag)) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(r.partNumber), ETag: r.etag });
        chosen.push(p);
      }
      chosen.forEach((p, i) => {
        if (i < chosen.length - 1 && p.size < MIN_PART) {
          throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(p.size), MinSizeAllowed: String(MIN_PART), PartNumber: String(p.partNumber), ETag: p.etag });
        }
      });
      const dir = this.uploadDir(b, uploadId);
      const partFiles = async function* (): AsyncGenerator<Buffer> {
        for (const p of chosen) {
          const fh = await open(join(dir, String(p.partNumber)), 'r');
          try {
            yield* fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>;
          } finally {
            await fh.close();
          }
        }
      };
      const spooled = await this.spool(b, partFiles());
      const etagHash = createHash('md5');
      for (const p of chosen) etagHash.update(Buffer.from(unquote(p.etag), 'hex'));
      const meta: ObjectMeta = {
        key,
        size: spooled.size,
        etag: `"${etagHash.digest('hex')}-${chosen.length}"`,
        lastModified: Date.now(),
        headers: upload.headers,
      };
      await this.commit(b, meta, spooled.path);
      await rm(dir, { recursive: true, force: true });
      return xml(200, 'CompleteMultipartUploadResult', { Location: `/${b}/${encodeURIComponent(key).replace(/%2F/g, '/')}`, Bucket: b, Key: key, ETag: meta.etag });
    });
  }

  private async abortMultipartUpload(b: string, key: string, uploadId: string): Promise<LocalResponse> {
    await this.readUpload(b, key, uploadId);
    await this.withLock(`upload:${uploadId}`, () => rm(this.uploadDir(b, uploadId), { recursive: true, force: true }));
    return { status: 204, headers: {} };
  }

  private async listMultipartUploads(b: string, q: URLSearchParams): Promise<LocalResponse> {
    await this.requireBucket(b);
    const prefix = q.get('prefix') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const idMarker = q.get('upload-id-marker') ?? '';
    const maxUploads = intParam(q, 'max-uploads', 1000, 1000);
    let ids: string[] = [];
    try {
      ids = await readdir(this.sysDir(b, 'uploads'));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const uploads: UploadMeta[] = [];
    for (const id of ids) {
      try {
        uploads.push(JSON.parse(await readFile(this.sysDir(b, 'uploads', id, 'upload.json'), 'utf8')) as UploadMeta);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    uploads.sort((x, y) => compareKeys(x.key, y.key) || x.initiated - y.initiated || (x.uploadId < y.uploadId ? -1 : 1));
    const eligible = uploads.filter((u) => {
      if (!u.key.startsWith(prefix)) return false;
      if (!keyMarker) return true;
      const c = compareKeys(u.key, keyMarker);
      // Without an upload-id-marker, key-marker skips every upload of that key.
      return c > 0 || (c === 0 && idMarker !== '' && u.uploadId > idMarker);
    });
    const page = eligible.slice(0, maxUploads);
    const truncated = eligible.length > page.length;
    const last = page[page.length - 1];
    return xml(200, 'ListMultipartUploadsResult', {
      Bucket: b,
      KeyMarker: keyMarker,
      UploadIdMarker: idMarker,
      NextKeyMarker: truncated ? last?.key : undefined,
      NextUploadIdMarker: truncated ? last?.uploadId : undefined,
      Prefix: prefix,
      MaxUploads: maxUploads,
      IsTruncated: truncated,
      Upload: page.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: new Date(u.initiated).toISOString() })),
    });
  }
}
