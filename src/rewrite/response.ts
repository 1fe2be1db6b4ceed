// The provider's names never reach the client: its bucket names, hosts and signature details
// in response headers and XML bodies are rewritten to what the client asked for.
import { escapeXml, s3Message, unescapeXml } from '../s3/errors.js';
import { urlEncodeKey } from '../s3/url-encoding.js';
import { multipartEtag } from '../s3/etag.js';
import { headerName, knownValue, nameTable, s3Spelling, type HeaderList } from '../forward/header-name.js';

// Response headers that belong to the hop to the provider, or describe the provider's account:
// the SSE-KMS encryption context (by default the provider bucket's ARN) and the provider's region
// for the bucket (an SDK that believed it would sign for a region s3gate does not serve). And the
// provider's Date: the answer carries s3gate's own, which Node writes from a clock it reads once a
// second, as nginx's proxy gives its own (proxy_pass_header). A client that corrects its clock
// from Date then corrects it to the clock that checks its signatures.
const DROPPED = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'server',
  'x-amz-server-side-encryption-context', 'x-amz-bucket-region', 'date',
]);

const KMS_KEY = 'x-amz-server-side-encryption-aws-kms-key-id';

// What the answer does with a header, by its name.
const KEEP = 0;
const DROP = 1;
const KMS = 2;
const LOCATION = 3;
/** an x-amz-checksum-* value, which a ranged answer may not carry */
const CHECKSUM = 4;
const DISPOSITION = 5;

function ruleOf(name: string): number {
  if (DROPPED.has(name)) return DROP;
  if (name === KMS_KEY) return KMS;
  if (name === 'location') return LOCATION;
  if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type') return CHECKSUM;
  if (name === 'content-disposition') return DISPOSITION;
  return KEEP;
}

// A provider's name and its rule from one walk of the name table, per header.
const answerName = nameTable(ruleOf);

/**
 * A KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) names the provider's account: the client gets
 * the key id alone (or the alias name), which S3 accepts wherever it accepts the ARN.
 */
export function kmsKeyId(v: string): string {
  const m = /^arn:[^:]*:kms:[^:]*:[^:]*:(key\/(.+)|alias\/.+)$/.exec(v);
  if (!m) return v;
  return m[2] ?? m[1]!;
}

function nameOf(n: string | Buffer): string {
  return typeof n === 'string' ? n : headerName(n);
}

function valueOf(v: string | Buffer): string {
  return typeof v === 'string' ? v : v.toString('latin1');
}

/** A header's values in a list, joined as an object of them would show them. */
export function headerValue(list: HeaderList, name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < list.length; i += 2) if (nameOf(list[i]!) === name) v = v === undefined ? valueOf(list[i + 1]!) : `${v},${valueOf(list[i + 1]!)}`;
  return v;
}

/** A header's value when the list has it exactly once. */
export function singleHeader(list: HeaderList, name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < list.length; i += 2) {
    if (nameOf(list[i]!) !== name) continue;
    if (v !== undefined) return undefined;
    v = valueOf(list[i + 1]!);
  }
  return v;
}

/** An object of headers as a flat list; a repeated header's values each get a line. */
export function headerListOf(headers: Record<string, string | string[] | undefined>): string[] {
  const list: string[] = [];
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    if (typeof v === 'string') list.push(k, v);
    else for (const one of v) list.push(k, one);
  }
  return list;
}

/**
 * The client's answer headers from the provider's, each name spelled as S3 writes it: hop and account headers dropped, a KMS key
 * ARN cut to its id, a Location naming the provider's bucket given the client's; on a ranged
 * answer, no full-object checksums; and s3gate's own headers (`own`: request id, CORS) in place
 * of the provider's of the same name. One pass over undici's raw headers, a value made a string
 * only if it goes on, and a flat list out, which Node's writeHead takes as it takes an object
 * (docs/performance.md, "resp").
 */
export function answerHeaders(
  list: HeaderList, own: Record<string, string>, ranged: boolean, upstreamBucket: string, clientBucket: string,
): string[] {
  const out: string[] = [];
  let first: string[] | undefined;
  const mine = Object.keys(own);
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]!;
    const raw = list[i + 1]!;
    let k: string;
    let spelled: string;
    let rule: number;
    let v: string;
    if (typeof n === 'string') {
      k = n;
      rule = ruleOf(n);
      if (rule === DROP || includes(mine, k)) continue;
      spelled = s3Spelling(k);
      v = valueOf(raw);
    } else {
      const known = answerName(n);
      k = known.name;
      rule = known.rule;
      if (rule === DROP || includes(mine, k)) continue;
      spelled = known.spelled;
      v = typeof raw === 'string' ? raw : knownValue(known, raw);
    }
    if (rule === KMS) v = kmsKeyId(v);
    else if (rule === LOCATION) v = clientLocation(v, upstreamBucket, clientBucket);
    else if (rule === CHECKSUM && ranged && isFullObjectChecksum(list, k, v)) continue;
    else if (rule === DISPOSITION && /[^\x00-\x7f]/.test(v)) {
      (first ??= []).push(spelled, v);
      continue;
    }
    out.push(spelled, v);
  }
  for (let j = 0; j < mine.length; j++) out.push(s3Spelling(mine[j]!), own[mine[j]!]!);
  return first === undefined ? out : first.concat(out);
}

// Why a Content-Disposition beyond ASCII goes first: Node's http writer (nodejs/node#46528) re-reads
// that header's value as UTF-8 once it has written a Content-Length, so a provider's bytes
// `filename="café.pdf"` (C3 A9, latin1 chars here as every header value) went out as E9, and
// `日本` made writeHead throw (a 500 for every GET of the object). Before Content-Length, Node
// writes the value as it writes every other: one byte per char, the bytes that came.

/** `names.includes(k)` for a few names, most of them V8's one copy of their text: a pointer comparison each. */
function includes(names: string[], k: string): boolean {
  for (let j = 0; j < names.length; j++) if (names[j] === k) return true;
  return false;
}

/** CreateBucket's Location is the provider's bucket path: the client's bucket is named instead. */
function clientLocation(loc: string, upstreamBucket: string, clientBucket: string): string {
  const path = loc.replace(/^https?:\/\/[^/]+/, '');
  return path === `/${upstreamBucket}` ? `/${clientBucket}` : loc;
}

/**
 * A Range answer carries only part of the object; a full-object x-amz-checksum-* on it makes new
 * SDKs fail their own validation (FlexibleChecksumError). Composite (multipart) checksums, whose
 * value ends in -N, are left alone: SDKs already skip those. A checksum header sent twice is not
 * one value: it goes.
 */
function isFullObjectChecksum(list: HeaderList, k: string, v: string): boolean {
  if (!/-\d+$/.test(v)) return true;
  let seen = 0;
  for (let i = 0; i < list.length; i += 2) if (nameOf(list[i]!) === k) seen++;
  return seen > 1;
}

export interface NameMap {
  /** the region s3gate serves: a provider's LocationConstraint becomes this */
  clientRegion?: string;
  upstreamBucket: string;
  clientBucket: string;
  /** the provider's endpoint host (and bucket virtual host) to hide */
  upstreamHosts: string[];
  /** the client-facing base URL, e.g. https://s3.example.com */
  clientBase: string;
  /** the client-facing object URL prefix for this bucket */
  clientBucketUrl: string;
  /** a listing from a provider that, under encoding-type=url, encodes only its keys (ProviderProfile.listingEncodesKeysOnly) */
  encodeListingFields?: boolean;
  /** ListObjects (v1) asked without a delimiter: S3 then gives no NextMarker (see rewriteXml) */
  dropNextMarker?: boolean;
}

/**
 * Operations whose XML body names the bucket, the provider's hosts or its region, rewritten to
 * the client's names. Bucket-setting answers are here when nothing in them identifies the
 * provider's account once rewritten (docs/security.md, "Provider details"); the others are
 * refused unless the key has admin on the bucket (PROVIDER_DETAIL_READS in src/s3/provider-details.ts).
 */
export const XML_REWRITE_OPS = new Set([
  'ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'ListParts',
  'CreateMultipartUpload', 'CompleteMultipartUpload',
  'GetBucketLocation', 'GetBucketCors', 'GetBucketLifecycleConfiguration', 'GetBucketTagging', 'GetBucketVersioning',
  'GetBucketWebsite', 'GetObjectLockConfiguration', 'GetBucketRequestPayment', 'GetBucketAccelerateConfiguration',
  'GetPublicAccessBlock', 'GetBucketOwnershipControls',
]);


const ELEMENT = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`, 'g');

/**
 * An error document whose Message is empty gets S3's message for its code. RGW 16 answers most
 * errors so (NoSuchKey, NoSuchBucket, BucketNotEmpty: `<Message></Message>`), and the AWS CLI v1
 * then fails on every one of them with "argument of type 'NoneType' is not iterable" in place
 * of the error (its s3errormsg customization searches the message).
 */
export function withErrorMessage(xml: string): string {
  const empty = /<Message\s*\/>|<Message>\s*<\/Message>/.exec(xml);
  if (!empty) return xml;
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? '';
  const message = s3Message(code) ?? `The provider answered ${code || 'an error'} without a message.`;
  return xml.slice(0, empty.index) + `<Message>${escapeXml(message)}</Message>` + xml.slice(empty.index + empty[0].length);
}

/** Operations whose answer encodeListingFields applies to. */
export const ENCODED_LISTINGS: ReadonlySet<string> = new Set(['ListObjects', 'ListObjectsV2', 'ListObjectVersions']);

// A listing's own fields that S3 url-encodes beside the keys; a CommonPrefixes element is matched
// whole so that its Prefix, which such a provider did encode, is passed over. Never a
// continuation token: that is opaque, and encoded by nobody.
const LISTING_FIELDS = /<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>|<(Prefix|Delimiter|Marker|NextMarker|StartAfter|KeyMarker|NextKeyMarker)>([^<]*)<\/\1>/g;

/**
 * The fields of a listing answered under encoding-type=url that the provider left raw, encoded as
 * S3 encodes them. Only an answer that says it is url-encoded: the client asked for it, and will
 * decode them.
 */
export function encodeListingFields(xml: string): string {
  if (!xml.includes('<EncodingType>url</EncodingType>')) return xml;
  return xml.replace(LISTING_FIELDS, (whole, name: string | undefined, v: string) => (name === undefined || v === '' ? whole : `<${name}>${urlEncodeKey(unescapeXml(v))}</${name}>`));
}

export function rewriteXml(xml: string, m: NameMap): string {
  const up = escapeXml(m.upstreamBucket);
  const client = escapeXml(m.clientBucket);
  let out = m.encodeListingFields ? encodeListingFields(xml) : xml;
  // RGW 16 gives a v1 listing's NextMarker without a delimiter too, and s3gate encodes it under
  // encoding-type=url as S3 encodes it under one. minio-js sends such a marker back as it came
  // (`a+b`, never decoded), so its listing skipped every key between `a b` and `a+b`. Without the
  // element a client goes on from its last key, as at S3.
  if (m.dropNextMarker) out = out.replace(/<NextMarker>[^<]*<\/NextMarker>/, '');
  for (const el of ['Name', 'Bucket', 'BucketName']) {
    out = out.replace(ELEMENT(el), (whole, v: string) => (v === up ? `<${el}>${client}</${el}>` : whole));
  }
  out = out.replace(ELEMENT('Location'), (_w, v: string) => {
    // CompleteMultipartUpload's Location is the object URL at the provider.
    // Providers differ: a full URL, a scheme-less "host/bucket/key", or a path.
    const path = v.startsWith('/') ? v : v.replace(/^(?:https?:\/\/)?[^/]*/, '');
    const keyPart = path.replace(new RegExp(`^/${escapeRe(up)}(?=/|$)`), '');
    return `<Location>${escapeXml(m.clientBucketUrl)}${keyPart}</Location>`;
  });
  out = out.replace(ELEMENT('Resource'), (_w, v: string) => `<Resource>${v.replace(new RegExp(`^/${escapeRe(up)}(?=/|$)`), `/${client}`)}</Resource>`);
  // GetBucketLocation: the client signs for s3gate's region, whatever the provider's is
  // (us-east-1 is spelled as an empty constraint, as S3 does).
  if (m.clientRegion !== undefined) {
    const region = m.clientRegion === 'us-east-1' ? '' : escapeXml(m.clientRegion);
    out = out.replace(/<LocationConstraint([^>]*?)(?:\/>|>[^<]*<\/LocationConstraint>)/g, (_w, attrs: string) => `<LocationConstraint${attrs}>${region}</LocationConstraint>`);
    // On its own line, as S3 writes it: the JS SDK v2 reads the constraint with />(.+)<\/Location/,
    // which on RGW's one-line document took `<LocationConstraint xmlns="…">` for the region.
    out = out.replace(/^(\uFEFF?<\?xml[^>]*\?>)[ \t\r\n]*(?=<LocationConstraint[\s>/])/, '$1\n');
  }
  // Provider-side signature details describe s3gate's request to the provider: not the client's business.
  out = out.replace(/<(StringToSign|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes|AWSAccessKeyId|SignatureProvided|HostId)>[^<]*<\/\1>/g, '');
  const clientHost = escapeXml(hostOf(m.clientBase));
  for (const h of m.upstreamHosts) out = out.split(escapeXml(h)).join(clientHost);
  return out;
}

/**
 * A CompleteMultipartUploadResult whose ETag is empty gets the one its parts make. Ceph RGW 16
 * answers `<ETag></ETag>` (the fault Red Hat's BZ 2266579 tracks), so the JS SDK's Upload resolved
 * with ETag '' and boto3's complete_multipart_upload with ''; HEAD then shows the object's ETag,
 * the MD5 of the parts' MD5s that S3 and RGW make. A provider's non-empty ETag is left as it is.
 */
export function filledEtag(xml: string, completeBody: Buffer): string {
  const empty = /<ETag>\s*<\/ETag>|<ETag\s*\/>/.exec(xml);
  if (!empty) return xml;
  const etag = multipartEtag(completeBody.toString('utf8'));
  if (etag === undefined) return xml;
  return xml.slice(0, empty.index) + `<ETag>${escapeXml(etag)}</ETag>` + xml.slice(empty.index + empty[0].length);
}

/** The host of the client-facing base URL. The Host header is the client's text: it may not parse as a URL. */
function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return base.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The provider's ListBuckets answer: each bucket's name and creation date, in any element order. */
export function listedBuckets(xml: string): { name: string; created?: string }[] {
  const out: { name: string; created?: string }[] = [];
  for (const m of xml.matchAll(/<Bucket>([\s\S]*?)<\/Bucket>/g)) {
    const name = /<Name>([^<]*)<\/Name>/.exec(m[1]!)?.[1];
    const created = /<CreationDate>([^<]*)<\/CreationDate>/.exec(m[1]!)?.[1];
    if (name !== undefined) out.push({ name, ...(created !== undefined ? { created } : {}) });
  }
  return out;
}
