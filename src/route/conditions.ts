// A client's conditional write or delete reaches storage only where it will be checked. A
// provider that does not know If-None-Match on PutObject ignores it and overwrites: the client
// asked for "create, never replace" (Terraform's S3 state lock, a job's exactly-once marker) and
// got a silent replace. So where the provider's profile does not say it checks a condition, the
// request answers 501 NotImplemented, as S3 answers a header it does not implement, and nothing
// is forwarded. An operator whose provider does check it says so in the upstream's
// `conditionalWrites` (docs/providers.md).
import type { ProviderProfile } from '../config/provider.js';
import { etagListMatches, unquote } from '../s3/etag.js';
import { checkCopySourceConditions } from '../s3/copy-source-conditions.js';
import type { Upstream } from '../config/types.js';
import { callUpstream } from '../forward/client.js';
import { drain } from './io.js';
import { S3Error } from '../s3/errors.js';

type Headers = Record<string, string | string[] | undefined>;
type Flags = ProviderProfile['conditionalWrites'];

interface Condition {
  header: string;
  /** the header's name as S3 documents it, for the error */
  name: string;
  checked(c: Flags): boolean;
}

const IF_NONE_MATCH = (on: (c: Flags) => boolean): Condition => ({ header: 'if-none-match', name: 'If-None-Match', checked: (c) => c.ifNoneMatch && on(c) });
const IF_MATCH = (on: (c: Flags) => boolean): Condition => ({ header: 'if-match', name: 'If-Match', checked: (c) => c.ifMatch && on(c) });
const always = () => true;
const onDelete = (c: Flags) => c.onDelete === true;

// The conditions each operation takes on the object it writes or deletes. The copy source's own
// conditions (x-amz-copy-source-if-*) are read conditions every provider checks, and not here.
const CONDITIONS: Record<string, Condition[]> = {
  PutObject: [IF_NONE_MATCH(always), IF_MATCH(always)],
  CopyObject: [IF_NONE_MATCH((c) => c.onCopy === true), IF_MATCH((c) => c.onCopy === true)],
  CompleteMultipartUpload: [IF_NONE_MATCH((c) => c.onComplete === true), IF_MATCH((c) => c.onComplete === true)],
  DeleteObject: [
    { header: 'if-match', name: 'If-Match', checked: onDelete },
    { header: 'x-amz-if-match-last-modified-time', name: 'x-amz-if-match-last-modified-time', checked: onDelete },
    { header: 'x-amz-if-match-size', name: 'x-amz-if-match-size', checked: onDelete },
  ],
};

const WRITES: ReadonlySet<string> = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);

/** The conditions on the written or deleted object that this request carries. */
export function writeConditions(operation: string, headers: Headers): string[] {
  const list = CONDITIONS[operation];
  if (!list) return [];
  return list.filter((c) => headers[c.header] !== undefined).map((c) => c.header);
}

/** Refuses (501) a conditional write or delete the provider would not check. */
export function requireCheckedConditions(operation: string, headers: Headers, profile: ProviderProfile): void {
  const list = CONDITIONS[operation];
  if (!list) return;
  // Indexed: no iterator per PutObject.
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (headers[c.header] === undefined || c.checked(profile.conditionalWrites)) continue;
    throw new S3Error(
      'NotImplemented',
      `${c.name} on ${operation} is not checked by this bucket's provider, which would write regardless; ` +
        `s3gate refuses the request rather than let it replace or delete an object unconditionally.`,
      { Header: c.name },
    );
  }
}

/**
 * The headers to send where the provider matches a write's If-Match only unquoted (`ifMatch:
 * unquoted`): the client's list with each ETag's quotes taken off; undefined where nothing
 * changes. A read's If-Match is left as the client sent it.
 */
export function providerIfMatch(operation: string, headers: Record<string, string>, profile: ProviderProfile): Record<string, string> | undefined {
  const im = headers['if-match'];
  if (im === undefined || profile.conditionalWrites.ifMatch !== 'unquoted' || !WRITES.has(operation)) return undefined;
  return { ...headers, 'if-match': im.split(',').map((t) => (t.trim() === '*' ? '*' : unquote(t))).join(',') };
}

// S3's names for a copy's source conditions, and Ceph RGW's.
const COPY_SOURCE_CONDITIONS = [
  ['x-amz-copy-source-if-match', 'x-amz-copy-if-match'],
  ['x-amz-copy-source-if-none-match', 'x-amz-copy-if-none-match'],
  ['x-amz-copy-source-if-modified-since', 'x-amz-copy-if-modified-since'],
  ['x-amz-copy-source-if-unmodified-since', 'x-amz-copy-if-unmodified-since'],
] as const;

/**
 * A CopyObject's source conditions under the names a `copySourceConditions: rgw` provider reads;
 * undefined where nothing changes. RGW 16 ignored S3's names and copied whatever the source held
 * (minio-go's CopyObject with a stale ETag, an If-Unmodified-Since long past). RGW checks each
 * condition alone, where S3 lets a true If-Match decide over If-Unmodified-Since, and
 * If-None-Match over If-Modified-Since (the CopyObject API): the one S3 would not weigh is left out.
 * UploadPartCopy is not here: RGW 16 checks neither name on it (checkPartCopySource).
 */
export function providerCopyConditions(operation: string, headers: Record<string, string>, profile: ProviderProfile): Record<string, string> | undefined {
  if (operation !== 'CopyObject' || profile.copySourceConditions !== 'rgw') return undefined;
  let out: Record<string, string> | undefined;
  for (const [s3, rgw] of COPY_SOURCE_CONDITIONS) {
    const v = headers[s3];
    if (v === undefined) continue;
    out ??= { ...headers };
    delete out[s3];
    out[rgw] = v;
  }
  if (out === undefined) return undefined;
  if (out['x-amz-copy-if-match'] !== undefined) delete out['x-amz-copy-if-unmodified-since'];
  if (out['x-amz-copy-if-none-match'] !== undefined) delete out['x-amz-copy-if-modified-since'];
  return out;
}

/** An UploadPartCopy whose source conditions the provider would not check (`copySourceConditions: rgw`). */
export function uncheckedPartCopy(operation: string, headers: Record<string, string>, profile: ProviderProfile): boolean {
  if (operation !== 'UploadPartCopy' || profile.copySourceConditions !== 'rgw') return false;
  for (const [s3] of COPY_SOURCE_CONDITIONS) if (headers[s3] !== undefined) return true;
  return false;
}

/**
 * RGW 16 checks no source condition on UploadPartCopy, under either name, and boto3's managed
 * copy (s3transfer) sends CopySourceIfMatch on every part so that a source replaced mid-copy fails
 * the copy rather than mixing two objects. s3gate asks the source's HEAD and checks them itself
 * before the part is sent: the window left is that HEAD's to the copy's, not the whole copy's. A
 * source the HEAD does not find goes on, for the provider's own NoSuchKey.
 */
export async function checkPartCopySource(
  up: Upstream, bucket: string, key: string, versionId: string | undefined, headers: Record<string, string>,
): Promise<void> {
  const r = await callUpstream(up, { operation: 'HeadObject', method: 'HEAD', bucket, key, ...(versionId !== undefined ? { query: [['versionId', versionId]] } : {}) });
  await drain(r);
  if (r.status !== 200) return;
  const etag = r.headers.etag;
  const modified = r.headers['last-modified'];
  if (typeof etag !== 'string' || typeof modified !== 'string') return;
  checkCopySourceConditions(headers, { etag, lastModified: Date.parse(modified) });
}

/** Whether the provider checks `header` on `operation` (if-none-match or if-match). */
function checks(operation: string, header: string, profile: ProviderProfile): boolean {
  const c = CONDITIONS[operation]?.find((x) => x.header === header);
  return c !== undefined && c.checked(profile.conditionalWrites);
}

/** What a provider's HEAD of the key said. */
export interface Presence {
  status: number;
  etag?: string;
}

/**
 * During a migration a key may still live only at the old provider, where the new one's own
 * check cannot see it. If-None-Match: * holds only if neither has the key; If-Match against the
 * object the client reads, the new provider's where it has one, else the old one's. Returns the
 * headers to send the new provider in place of the client's conditions, or undefined to send
 * them as they are. `atNew` and `atOld` are HEADs of the key at each, asked only when needed.
 */
export async function conditionsAcrossMigration(
  operation: string, headers: Record<string, string>, newProfile: ProviderProfile,
  atNew: () => Promise<Presence>, atOld: () => Promise<Presence>,
): Promise<Record<string, string> | undefined> {
  const inm = headers['if-none-match'];
  const im = headers['if-match'];
  if (inm === undefined && im === undefined) return undefined;
  if (inm !== undefined) {
    const old = await atOld();
    if (old.status === 200) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    if (old.status !== 404) throw unreachable(old.status);
  }
  if (im === undefined) return undefined;
  const fresh = await atNew();
  if (fresh.status === 200) return undefined;
  if (fresh.status !== 404) throw unreachable(fresh.status);
  const old = await atOld();
  if (old.status === 404) throw new S3Error('NoSuchKey');
  if (old.status !== 200) throw unreachable(old.status);
  if (old.etag === undefined || !etagListMatches(im, old.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  // The object the client named is the old provider's: the write may land at the new one while
  // the key is still absent there. If-None-Match: * makes that the new provider's own check; a
  // provider without it leaves the window from this HEAD to its commit (docs/migration.md).
  const out: Record<string, string> = { ...headers };
  delete out['if-match'];
  if (checks(operation, 'if-none-match', newProfile)) out['if-none-match'] = '*';
  return out;
}

function unreachable(status: number): S3Error {
  return new S3Error('ServiceUnavailable', `A provider of this bucket, which is being migrated, could not be asked whether the key exists (HTTP ${status}); retry the request.`);
}
