// DeleteObjects names its resources in its body. The body is read (bounded), parsed strictly,
// every key checked against the grant, and the provider is sent a body re-written from what was
// parsed: whatever the provider's XML parser makes of comments, CDATA, entities or line ends,
// it can only see the keys that were authorized (docs/security.md, "One view").
//
// A key outside the grant is answered as S3 answers a key its caller may not delete: an <Error>
// AccessDenied entry in the 200 DeleteResult, while the others are deleted. It is left out of
// the body the provider gets, so the provider never sees it; when no key is inside the grant,
// nothing is forwarded. (`aws s3 rm --recursive` over a listing wider than the delete grant
// deletes what it may and reports the rest, as at S3.)
import type { Readable } from 'node:stream';
import type { GatewayKey } from '../config/types.js';
import { escapeXml, S3Error, unescapeXml } from '../s3/errors.js';
import { deleteKeyAllowed } from './grants.js';
import { bypasses } from './iam.js';
import { replacedBody, type WholeXmlBody } from '../payload/replaced.js';

/** S3's own limit. */
export const DELETE_OBJECTS_MAX_KEYS = 1000;
/**
 * Room for 1,000 keys of S3's maximum 1,024 bytes with version ids and some escaping (about
 * 1.2 MB); s3gate's own limit, as S3 publishes none for this body. The same figure as
 * listen/body.ts's WHOLE_BODY_LIMITS.DeleteObjects, which refuses a longer body before reading
 * it (and holds its memory under the body budget); this check keeps the parser bounded on its own.
 */
export const DELETE_OBJECTS_MAX_BYTES = 2 * 1024 * 1024;

export interface DeleteObject {
  Key: string;
  VersionId?: string;
  ETag?: string;
  LastModifiedTime?: string;
  Size?: string;
}

export interface DeleteRequest {
  quiet?: string;
  objects: DeleteObject[];
}

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const OBJECT_FIELDS = ['Key', 'VersionId', 'ETag', 'LastModifiedTime', 'Size'] as const;

function malformed(): S3Error {
  return new S3Error('MalformedXML');
}

function decodeText(s: string): string {
  if (s.includes('<') || s.includes(']]>')) throw malformed();
  // XML 1.0 §2.11: a parser turns every CR LF and lone CR into LF.
  const text = s.replace(/\r\n?/g, '\n');
  return text.replace(/&([^;]*);?/g, (m, e: string) => {
    if (!m.endsWith(';')) throw malformed();
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[e] !== undefined) return named[e]!;
    const n = /^#x([0-9a-fA-F]{1,6})$/.exec(e) ? parseInt(e.slice(2), 16) : /^#([0-9]{1,7})$/.exec(e) ? parseInt(e.slice(1), 10) : NaN;
    if (!Number.isInteger(n) || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) throw malformed();
    return String.fromCodePoint(n);
  });
}

/**
 * The Delete document, strictly: an optional XML declaration, `<Delete>` (an xmlns attribute at
 * most), `<Object>` elements of leaf fields and one optional `<Quiet>`. Comments, CDATA, DOCTYPE,
 * processing instructions, attributes, unknown elements: MalformedXML, since any of them is a
 * place where two parsers could disagree.
 */
export function parseDeleteObjects(xml: string): DeleteRequest {
  let s = xml.replace(/^\uFEFF/, '');
  const decl = /^<\?xml\s[^?<>]*\?>/.exec(s);
  if (decl) s = s.slice(decl[0].length);
  const root = /^\s*<Delete(\s+xmlns\s*=\s*("[^"<>&]*"|'[^'<>&]*'))?\s*>([\s\S]*)<\/Delete\s*>\s*$/.exec(s);
  if (!root) throw malformed();
  let body = root[3]!;
  const out: DeleteRequest = { objects: [] };
  const element = /^\s*<([A-Za-z]+)>([\s\S]*?)<\/\1>/;
  for (;;) {
    body = body.replace(/^\s+/, '');
    if (body === '') break;
    const m = element.exec(body);
    if (!m) throw malformed();
    body = body.slice(m[0].length);
    const [, name, inner] = m as unknown as [string, string, string];
    if (name === 'Quiet') {
      if (out.quiet !== undefined) throw malformed();
      const q = decodeText(inner).trim();
      if (q !== 'true' && q !== 'false') throw malformed();
      out.quiet = q;
    } else if (name === 'Object') {
      if (out.objects.length === DELETE_OBJECTS_MAX_KEYS) throw new S3Error('MalformedXML', `A DeleteObjects request names at most ${DELETE_OBJECTS_MAX_KEYS} keys`);
      out.objects.push(parseObject(inner));
    } else throw malformed();
  }
  if (out.objects.length === 0) throw malformed();
  return out;
}

function parseObject(inner: string): DeleteObject {
  const fields: Partial<Record<(typeof OBJECT_FIELDS)[number], string>> = {};
  let rest = inner;
  const leaf = /^\s*<([A-Za-z]+)>([^<]*)<\/\1>/;
  for (;;) {
    rest = rest.replace(/^\s+/, '');
    if (rest === '') break;
    const m = leaf.exec(rest);
    if (!m) throw malformed();
    rest = rest.slice(m[0].length);
    const name = m[1] as (typeof OBJECT_FIELDS)[number];
    if (!OBJECT_FIELDS.includes(name) || fields[name] !== undefined) throw malformed();
    fields[name] = decodeText(m[2]!);
  }
  if (fields.Key === undefined || fields.Key === '') throw malformed();
  return fields as DeleteObject;
}

// Text as any XML parser reads it back: markup escaped, and CR as a reference, since a literal
// one would become LF.
function text(s: string): string {
  return escapeXml(s).replace(/\r/g, '&#13;');
}

/** The document the provider receives: only what was parsed, in one spelling. */
export function deleteObjectsXml(req: DeleteRequest): string {
  let inner = '';
  for (const o of req.objects) {
    inner += '<Object>';
    for (const f of OBJECT_FIELDS) if (o[f] !== undefined) inner += `<${f}>${text(o[f]!)}</${f}>`;
    inner += '</Object>';
  }
  if (req.quiet !== undefined) inner += `<Quiet>${req.quiet}</Quiet>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="${S3_NS}">${inner}</Delete>`;
}

function tooLarge(): S3Error {
  return new S3Error('MalformedXML', `The DeleteObjects body is larger than ${DELETE_OBJECTS_MAX_BYTES} bytes`);
}

async function readBounded(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > DELETE_OBJECTS_MAX_BYTES) {
      stream.destroy();
      throw tooLarge();
    }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/**
 * DeleteObjects' conditions are in its body: an ETag, LastModifiedTime or Size in an <Object>.
 * Refused (501) where they would not be checked.
 */
function refuseDeleteConditions(objects: { ETag?: string; LastModifiedTime?: string; Size?: string }[]): void {
  const o = objects.find((x) => x.ETag !== undefined || x.LastModifiedTime !== undefined || x.Size !== undefined);
  if (!o) return;
  const field = o.ETag !== undefined ? 'ETag' : o.LastModifiedTime !== undefined ? 'LastModifiedTime' : 'Size';
  throw new S3Error(
    'NotImplemented',
    `An <Object> with ${field} in DeleteObjects is a condition this bucket's provider does not check (or, during a migration, ` +
      'cannot check at both providers); s3gate refuses the request rather than let it delete unconditionally.',
  );
}

/** What may go to the provider, and the keys answered AccessDenied by s3gate itself. */
export interface AuthorizedDelete {
  /** undefined: no key was inside the grant, and nothing is forwarded */
  readonly body?: WholeXmlBody;
  readonly denied: readonly DeleteObject[];
}

/**
 * Reads the verified body (at most DELETE_OBJECTS_MAX_BYTES), takes out every key the gateway
 * key may not delete, and returns the re-written body of the rest with a Content-MD5 of its own;
 * the client's checksums were of the bytes it sent, which no longer travel. `conditionsChecked`
 * false: the provider would not check per-object conditions (route/conditions.ts), so a body
 * with any is refused.
 */
export async function authorizedDeleteBody(
  body: { stream: Readable; buffer?: Buffer; headers: Record<string, string | null> }, headers: Record<string, string>,
  key: GatewayKey | undefined, bucket: string, conditionsChecked = true,
): Promise<AuthorizedDelete> {
  const xml = body.buffer ?? (await readBounded(body.stream));
  if (xml.length > DELETE_OBJECTS_MAX_BYTES) throw tooLarge();
  const req = parseDeleteObjects(xml.toString('utf8'));
  if (!key) throw new S3Error('AccessDenied');
  const allowed: DeleteObject[] = [];
  const denied: DeleteObject[] = [];
  const bypass = bypasses(headers['x-amz-bypass-governance-retention']);
  for (const o of req.objects) (deleteKeyAllowed(key, bucket, o.Key, o.VersionId, bypass) ? allowed : denied).push(o);
  if (allowed.length === 0) return { denied };
  if (!conditionsChecked) refuseDeleteConditions(allowed);
  return { body: replacedBody(Buffer.from(deleteObjectsXml({ ...req, objects: allowed }), 'utf8'), body.headers, headers), denied };
}

/** One <Error> entry of a provider's DeleteResult. */
export interface DeleteError {
  Key: string;
  VersionId?: string;
  Code: string;
  Message: string;
}

/** The <Error> entries of a provider's DeleteResult. */
export function deleteResultErrors(xml: string): DeleteError[] {
  const field = (inner: string, name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(inner);
    return m ? unescapeXml(m[1]!) : undefined;
  };
  return [...xml.matchAll(/<Error>([\s\S]*?)<\/Error>/g)].flatMap(([, inner]) => {
    const key = field(inner!, 'Key');
    if (key === undefined) return [];
    const version = field(inner!, 'VersionId');
    return [{ Key: key, ...(version !== undefined ? { VersionId: version } : {}), Code: field(inner!, 'Code') ?? '', Message: field(inner!, 'Message') ?? '' }];
  });
}

/** DeleteResult <Error> entries for these keys, each with this code and message. */
export function errorEntries(objects: readonly { Key: string; VersionId?: string }[], code: string, message: string): string {
  let xml = '';
  for (const o of objects) {
    xml += `<Error><Key>${text(o.Key)}</Key>`;
    if (o.VersionId !== undefined) xml += `<VersionId>${text(o.VersionId)}</VersionId>`;
    xml += `<Code>${text(code)}</Code><Message>${text(message)}</Message></Error>`;
  }
  return xml;
}

/** A DeleteResult that holds only these entries. */
export function resultOf(entries: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="${S3_NS}">${entries}</DeleteResult>`;
}

/** S3's entry for a key its caller may not delete, as a DeleteResult holds it. */
export function deniedEntries(denied: readonly DeleteObject[]): string {
  return errorEntries(denied, 'AccessDenied', 'Access Denied');
}

/** The whole answer when no key was inside the grant. */
export function deniedResult(denied: readonly DeleteObject[]): string {
  return resultOf(deniedEntries(denied));
}

/**
 * The provider's DeleteResult with s3gate's AccessDenied entries added: before its closing tag,
 * or in place of an empty `<DeleteResult/>`. undefined: not a DeleteResult.
 */
export function withDenied(xml: string, entries: string): string | undefined {
  const end = xml.lastIndexOf('</DeleteResult>');
  if (end >= 0) return xml.slice(0, end) + entries + xml.slice(end);
  const empty = /<DeleteResult(\s[^>]*)?\/>/.exec(xml);
  if (!empty) return undefined;
  return xml.slice(0, empty.index) + `<DeleteResult${empty[1] ?? ''}>${entries}</DeleteResult>` + xml.slice(empty.index + empty[0].length);
}
