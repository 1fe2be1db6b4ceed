// A browser form upload (S3 POST Object) turned into an ordinary PutObject: the form is read up
// to its file (post-form.ts), its signature and policy checked (authenticate/ and authorize/
// post-policy.ts), and what the signer allowed becomes the PUT's key and headers. The pipeline
// then authorizes, routes and re-signs that PutObject like any other; the file reaches the
// provider only once it is whole and verified (spool.ts), and the answer is S3's for a POST.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Address } from '../addressing/resolve.js';
import type { Operation } from '../authorize/operation.js';
import { authenticatePost } from '../authenticate/post-policy.js';
import type { Authenticated } from '../authenticate/index.js';
import { checkPolicy, lengthRange, parsePolicy, tooLarge, tooSmall, type PostPolicy } from '../authorize/post-policy.js';
import type { ProviderProfile } from '../config/provider.js';
import type { GatewayConfig } from '../config/types.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { algorithmOfHeader, VerifyingStream, type AmzChecksumAlgorithm } from '../payload/index.js';
import type { Route } from '../route/route.js';
import { escapeXml, isS3Error, S3Error } from '../s3/errors.js';
import { taggingHeader } from '../s3/tagging.js';
import { uriEncode } from '../signing/sigv4.js';
import { SMALL_BODY, type InboundBody } from './body.js';
import { bodyBytes } from './memory.js';
import { readForm, type FormParts } from './post-form.js';
import { nameMap, type ResponseTally } from './respond.js';
import { Spool } from './spool.js';
import { withSession } from '../sts/inbound.js';
import type { Metrics } from '../metrics/metrics.js';
import { utf8ToWire } from '../s3/wire-text.js';
import { s3Spelled } from '../forward/header-name.js';

/** S3's largest POST upload, for a policy without a content-length-range. */
export const MAX_POST_SIZE = 5 * 1024 ** 3;

// Form fields that travel as the PUT's headers under their own name.
const CONTENT_FIELDS = new Set(['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires', 'content-md5']);
// x-amz-* fields that are the form's authentication, not the object's.
const AUTH_FIELDS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature', 'x-amz-security-token']);
// Header values a provider request can carry: no line breaks or other controls.
const HEADER_SAFE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

function invalidField(name: string, value: string, why: string): S3Error {
  return new S3Error('InvalidArgument', why, { ArgumentName: name, ArgumentValue: value });
}

// The form's `tagging` (S3's Tagging XML) becomes the PUT's x-amz-tagging query-string header.
export { taggingHeader } from '../s3/tagging.js';

/** What the form's fields ask of the object, as a PutObject's headers. Pure. */
export function putHeaders(fields: ReadonlyMap<string, string>): Record<string, string> {
  // S3 stores a form upload without a Content-Type field as binary/octet-stream, whatever the
  // browser said about the file part: only the signed fields count.
  const h: Record<string, string> = { 'content-type': 'binary/octet-stream' };
  for (const [name, value] of fields) {
    let header: string | undefined;
    if (CONTENT_FIELDS.has(name)) header = name;
    else if (name === 'acl') header = 'x-amz-acl';
    else if (name === 'tagging') {
      h['x-amz-tagging'] = taggingHeader(value);
      continue;
    } else if (name === 'x-amz-checksum-algorithm') header = 'x-amz-sdk-checksum-algorithm';
    else if (name.startsWith('x-amz-') && !AUTH_FIELDS.has(name) && name !== 'x-amz-copy-source' && !name.startsWith('x-amz-copy-source-')) header = name;
    if (header === undefined) continue;
    if (!HEADER_SAFE.test(value)) throw invalidField(name, value, `The value of form field ${name} cannot be sent as a header.`);
    // Beyond ASCII: its UTF-8 bytes, as botocore sends x-amz-meta-* holding UTF-8 on a PutObject and RGW stores a form's field.
    h[header] = utf8ToWire(value);
  }
  return h;
}

/** The object's key: the form's, with the browser's file name for ${filename}. */
export function objectKey(fields: ReadonlyMap<string, string>, filename: string): string {
  const key = fields.get('key');
  if (key === undefined || key === '') {
    throw new S3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", { ArgumentName: 'key', ArgumentValue: '' });
  }
  const named = key.replaceAll('${filename}', filename);
  if (Buffer.byteLength(named) > 1024) throw new S3Error('KeyTooLongError', undefined, { Size: String(Buffer.byteLength(named)), MaxSizeAllowed: '1024' });
  return named;
}

/** Counts the file's bytes against the policy's range while they stream: too many stops the upload at once. */
class SizeRange extends Transform {
  private n = 0;
  constructor(private readonly min: number, private readonly max: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    if (this.n > this.max) return cb(tooLarge(this.max));
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    cb(this.n < this.min ? tooSmall(this.min, this.n) : null);
  }
}

/** The form as the pipeline sees it: who signed it, and the PutObject it stands for. */
export interface PostUpload {
  auth: Authenticated;
  /** the object key the upload writes (grants are checked against it) */
  key: string;
  /** the PutObject's headers */
  headers: Record<string, string>;
  /** reads the file whole and verified, then gives it as the PutObject's body */
  body(profile: ProviderProfile, res: ServerResponse): Promise<InboundBody>;
  /** the fields the answer depends on */
  fields: ReadonlyMap<string, string>;
  /** the request as the rest of the pipeline sees it: a PutObject of `key` with `headers`, and nothing of the POST's own headers */
  view(address: Address): { address: Address; op: Operation; headers: Record<string, string> };
}

/**
 * Reads a POST Object form up to its file and checks everything the fields alone can show:
 * signature, expiration, conditions, coverage. The file is left unread until `body`, so a key
 * without a grant on the resulting key is refused before any of the file is stored anywhere.
 */
export async function receivePostForm(
  cfg: GatewayConfig, req: IncomingMessage, res: ServerResponse, headers: Record<string, string | string[] | undefined>,
  address: Address, ctx: { bytesIn: number }, expectContinue: boolean, metrics?: Metrics,
): Promise<PostUpload> {
  if (expectContinue) res.writeContinue();
  req.on('data', (c: Buffer) => {
    ctx.bytesIn += c.length;
    bodyBytes(c.length);
  });
  const ct = headers['content-type'];
  const parts = await readForm(req, Array.isArray(ct) ? ct[0] : ct);
  try {
    const auth = authenticateForm(cfg, parts.fields, metrics);
    const policyField = parts.fields.get('policy');
    const policy = policyField !== undefined ? parsePolicy(policyField) : undefined;
    const key = objectKey(parts.fields, parts.filename);
    // The conditions read the key as the object will be named.
    const checked = new Map(parts.fields);
    if (checked.has('key')) checked.set('key', key);
    if (policy) checkPolicy(policy, checked, address.bucket!, new Date());
    return new FormUpload(auth, key, putHeaders(parts.fields), parts, policy);
  } catch (e) {
    parts.file.resume();
    throw e;
  }
}

/**
 * The form's signer among the configured keys, or, when the form carries a session token (an app
 * signing with temporary credentials), that session's temporary key only: as for a request
 * (sts/inbound.ts), a token cannot lend its session to another key. A refused token is counted
 * by reason as a request's is.
 */
function authenticateForm(cfg: GatewayConfig, fields: ReadonlyMap<string, string>, metrics: Metrics | undefined): Authenticated {
  const token = fields.get('x-amz-security-token');
  if (token === undefined) return authenticatePost(fields, cfg.keys, cfg.region, cfg.acceptRegions);
  return withSession(cfg, token, new Date(), (keys) => authenticatePost(fields, keys, cfg.region, cfg.acceptRegions), metrics);
}

class FormUpload implements PostUpload {
  constructor(
    readonly auth: Authenticated, readonly key: string, readonly headers: Record<string, string>,
    private readonly parts: FormParts, private readonly policy: PostPolicy | undefined,
  ) {}

  get fields(): ReadonlyMap<string, string> {
    return this.parts.fields;
  }

  view(address: Address): { address: Address; op: Operation; headers: Record<string, string> } {
    return { address: { ...address, key: this.key }, op: { name: 'PutObject', action: 'write' }, headers: { ...this.headers } };
  }

  async body(profile: ProviderProfile, res: ServerResponse): Promise<InboundBody> {
    const f = this.parts.fields;
    const range = this.policy ? lengthRange(this.policy) : undefined;
    const checksums: Partial<Record<AmzChecksumAlgorithm, string>> = {};
    for (const [name, value] of f) {
      const alg = algorithmOfHeader(name);
      if (alg) checksums[alg] = value.trim();
    }
    const contentMd5 = f.get('content-md5');
    // The same checks a PUT's body gets (payload/): Content-MD5 and the x-amz-checksum-* fields.
    const verify = new VerifyingStream({ checksums, ...(contentMd5 !== undefined ? { contentMd5 } : {}) });
    const spool = new Spool(SMALL_BODY);
    res.once('close', () => void spool.dispose());
    try {
      await pipeline(this.parts.file, new SizeRange(range?.min ?? 0, Math.min(range?.max ?? MAX_POST_SIZE, MAX_POST_SIZE)), verify, spool);
      await this.parts.done;
    } catch (e) {
      this.parts.file.resume();
      // The disk failing (ENOSPC, EACCES) is s3gate's error (500, logged), not the client's form.
      if (isS3Error(e) || (e as NodeJS.ErrnoException).syscall !== undefined) throw e;
      throw new S3Error('MalformedPOSTRequest');
    }
    // Checksums the provider does not take are dropped, as for any PUT (listen/body.ts).
    const accepted = new Set(profile.checksums.headerAlgorithms);
    const changes: Record<string, string | null> = {};
    for (const name of Object.keys(this.headers)) {
      const alg = algorithmOfHeader(name);
      if (alg && !accepted.has(alg)) changes[name] = null;
    }
    const sdkAlg = this.headers['x-amz-sdk-checksum-algorithm']?.toLowerCase();
    if (sdkAlg && !accepted.has(sdkAlg)) changes['x-amz-sdk-checksum-algorithm'] = null;
    return new SpooledBody(spool, changes);
  }
}

/** The verified file as the PutObject's body: one buffer when small, else a stream of the spool. */
class SpooledBody implements InboundBody {
  readonly length: number;
  readonly buffer?: Buffer;
  private made?: Readable;

  constructor(private readonly spool: Spool, readonly headers: Record<string, string | null>) {
    this.length = spool.length;
    const b = spool.buffer;
    if (b) this.buffer = b;
  }

  get stream(): Readable {
    return (this.made ??= this.spool.open());
  }
}

const POST_STATUSES = new Set([200, 201, 204]);

/** S3's answer to a form upload the provider stored: 204, 200, 201 with PostResponse, or a 303. */
export async function answerPost(
  cfg: GatewayConfig, tally: ResponseTally, req: IncomingMessage, res: ServerResponse, address: Address, route: Route,
  form: PostUpload, up: UpstreamResponse, extraHeaders: Record<string, string>,
): Promise<void> {
  up.body.resume();
  const etag = String(up.headers.etag ?? '');
  const bucket = route.clientBucket;
  const location = `${nameMap(cfg, req, route, address).clientBucketUrl}/${uriEncode(form.key, true)}`;
  const headers: Record<string, string> = { ...extraHeaders, location };
  if (etag) headers.etag = etag;
  const version = up.headers['x-amz-version-id'];
  if (typeof version === 'string') headers['x-amz-version-id'] = version;
  const redirect = form.fields.get('success_action_redirect') ?? form.fields.get('redirect');
  const target = redirect ? redirectTarget(redirect, bucket, form.key, etag) : undefined;
  if (target) {
    tally.status = 303;
    res.writeHead(303, s3Spelled({ ...headers, location: target, 'content-length': 0 }));
    res.end();
    return;
  }
  const asked = Number(form.fields.get('success_action_status'));
  // Any other value is answered as S3 does, with its default.
  const status = POST_STATUSES.has(asked) ? asked : 204;
  tally.status = status;
  if (status !== 201) {
    res.writeHead(status, s3Spelled({ ...headers, 'content-length': 0 }));
    res.end();
    return;
  }
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>' +
    `<Location>${escapeXml(location)}</Location><Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(form.key)}</Key><ETag>${escapeXml(etag)}</ETag></PostResponse>`;
  tally.bytesOut = Buffer.byteLength(xml);
  res.writeHead(201, s3Spelled({ ...headers, 'content-type': 'application/xml', 'content-length': tally.bytesOut }));
  res.end(xml);
}

/** success_action_redirect with bucket, key and etag added; S3 ignores a value that is not a URL. */
export function redirectTarget(redirect: string, bucket: string, key: string, etag: string): string | undefined {
  let u: URL;
  try {
    u = new URL(redirect);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const q = `bucket=${encodeURIComponent(bucket)}&key=${encodeURIComponent(key)}&etag=${encodeURIComponent(etag)}`;
  const hashAt = redirect.indexOf('#');
  const base = hashAt < 0 ? redirect : redirect.slice(0, hashAt);
  const hash = hashAt < 0 ? '' : redirect.slice(hashAt);
  return `${base}${base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?'}${q}${hash}`;
}
