// Canned ACLs, the only ACLs the local store keeps: parsing them from `x-amz-acl` or from an
// AccessControlPolicy body that says the same, rendering them as S3's grants, and deciding
// anonymous requests by them as S3 does.
import { escapeXml, S3Error } from '../s3/errors.js';
import { OWNER } from './http.js';
import { S3_NS, requireRoot, xmlBlocks, xmlLeaf } from './xml.js';
import type { CannedAcl, LocalResponse } from './types.js';

export const CANNED: readonly CannedAcl[] = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control'];
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const GRANT_HEADERS = ['x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control'];

/** `x-amz-acl`, validated; undefined when absent. Explicit grants are not kept: 501. */
export function cannedFromHeaders(h: Record<string, string>): CannedAcl | undefined {
  for (const g of GRANT_HEADERS) {
    if (h[g] !== undefined) throw new S3Error('NotImplemented', 'The local store keeps canned ACLs only; explicit grants are not implemented', { Header: g });
  }
  const v = h['x-amz-acl'];
  // Empty is no ACL asked for, as S3 and RGW read it: aptly's `acl: none` sends it so.
  if (v === undefined || v === '') return undefined;
  if (!(CANNED as readonly string[]).includes(v)) throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: v });
  return v as CannedAcl;
}

/** Grants beyond the owner's FULL_CONTROL that each canned ACL gives, as (group, permission). */
function groupGrants(acl: CannedAcl): [string, string][] {
  switch (acl) {
    case 'public-read':
      return [[ALL_USERS, 'READ']];
    case 'public-read-write':
      return [[ALL_USERS, 'READ'], [ALL_USERS, 'WRITE']];
    case 'authenticated-read':
      return [[AUTH_USERS, 'READ']];
    default:
      // bucket-owner-*: the bucket owner is the object owner here, who already has FULL_CONTROL.
      return [];
  }
}

/** An AccessControlPolicy body, accepted when its grants are exactly those of a canned ACL. */
export function cannedFromPolicy(doc: string): CannedAcl {
  try {
    requireRoot(doc, 'AccessControlPolicy');
  } catch {
    throw new S3Error('MalformedACLError');
  }
  const grants: string[] = [];
  for (const g of xmlBlocks(doc, 'Grant')) {
    const permission = xmlLeaf(g, 'Permission');
    const uri = xmlLeaf(g, 'URI');
    const id = xmlLeaf(g, 'ID');
    if (permission === undefined) throw new S3Error('MalformedACLError');
    if (uri === undefined && id === OWNER.ID && permission === 'FULL_CONTROL') continue;
    if (uri === undefined) throw new S3Error('NotImplemented', 'The local store keeps canned ACLs only; this grant is not implemented');
    grants.push(`${uri} ${permission}`);
  }
  const want = grants.sort().join('\n');
  for (const c of ['private', 'public-read', 'public-read-write', 'authenticated-read'] as const) {
    if (groupGrants(c).map(([u, p]) => `${u} ${p}`).sort().join('\n') === want) return c;
  }
  throw new S3Error('NotImplemented', 'The local store keeps canned ACLs only; these grants match none');
}

/** A PutObjectAcl/PutBucketAcl request: the canned header, or a body that maps to one. */
export function cannedFromAclRequest(h: Record<string, string>, body: string): CannedAcl {
  const header = cannedFromHeaders(h);
  if (header !== undefined) {
    if (body.trim()) throw new S3Error('UnexpectedContent');
    return header;
  }
  if (!body.trim()) throw new S3Error('MalformedACLError');
  return cannedFromPolicy(body);
}

export function aclResponse(acl: CannedAcl | undefined): LocalResponse {
  const owner = `<ID>${escapeXml(OWNER.ID)}</ID><DisplayName>${escapeXml(OWNER.DisplayName)}</DisplayName>`;
  const xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  let grants = `<Grant><Grantee ${xsi} xsi:type="CanonicalUser">${owner}</Grantee><Permission>FULL_CONTROL</Permission></Grant>`;
  for (const [uri, perm] of groupGrants(acl ?? 'private')) {
    grants += `<Grant><Grantee ${xsi} xsi:type="Group"><URI>${uri}</URI></Grantee><Permission>${perm}</Permission></Grant>`;
  }
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${S3_NS}"><Owner>${owner}</Owner><AccessControlList>${grants}</AccessControlList></AccessControlPolicy>`;
  return { status: 200, headers: { 'content-type': 'application/xml' }, body };
}

/** What an anonymous request may do, decided by canned ACLs as S3 does. */
export type AnonymousNeed = 'read-object' | 'list-bucket' | 'write-bucket' | 'never';

export function anonymousAllowed(need: AnonymousNeed, acls: { bucket?: CannedAcl | undefined; object?: CannedAcl | undefined }): boolean {
  switch (need) {
    case 'read-object':
      return acls.object === 'public-read' || acls.object === 'public-read-write';
    case 'list-bucket':
      return acls.bucket === 'public-read' || acls.bucket === 'public-read-write';
    case 'write-bucket':
      return acls.bucket === 'public-read-write';
    default:
      return false;
  }
}
