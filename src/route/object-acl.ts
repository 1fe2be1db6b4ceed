// Canned ACLs carried across a migration (copy-on-read and `s3gate migrate`). The old provider's
// object ACL is read with s3gate's own credentials (GetObjectAcl) and mapped to the canned ACL
// that grants exactly the same; the copy is written with it (`x-amz-acl`). Where no canned ACL
// says the same (a grant to another account or an e-mail address, READ_ACP for the public...),
// or a provider keeps no object ACLs, the object is not copied when the copy would open or close
// it: a copy must never make a private object public or the other way round. An anonymous read
// copies only an object whose canned ACL lets anyone read it, since the new provider then
// decides the next anonymous read by that ACL.
import type { Upstream } from '../config/types.js';
import { callUpstream, text } from '../forward/client.js';

export type CannedAcl = 'private' | 'public-read' | 'public-read-write' | 'authenticated-read';

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

// Each canned ACL's grants beyond the owner's FULL_CONTROL. bucket-owner-read and
// bucket-owner-full-control are `private` when the object's owner owns the bucket (s3gate writes
// with one account per provider); otherwise they name another account and do not map.
const CANNED: [CannedAcl, string][] = [
  ['private', ''],
  ['public-read', `${ALL_USERS} READ`],
  ['public-read-write', [`${ALL_USERS} READ`, `${ALL_USERS} WRITE`].sort().join('\n')],
  ['authenticated-read', `${AUTH_USERS} READ`],
];

function leaf(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? m[1]!.replace(/&amp;/g, '&').trim() : undefined;
}

/** The canned ACL whose grants an AccessControlPolicy document holds, exactly; undefined if none does. */
export function cannedFromPolicy(xml: string): CannedAcl | undefined {
  const owner = leaf(leaf(xml, 'Owner') ?? '', 'ID');
  const list = leaf(xml, 'AccessControlList');
  if (!owner || list === undefined) return undefined;
  const grants = new Set<string>();
  for (const m of list.matchAll(/<Grant>([\s\S]*?)<\/Grant>/g)) {
    const permission = leaf(m[1]!, 'Permission');
    const grantee = leaf(m[1]!, 'Grantee');
    if (!permission || grantee === undefined) return undefined;
    const uri = leaf(grantee, 'URI');
    const id = leaf(grantee, 'ID');
    // The owner's own grants: every canned ACL gives the owner FULL_CONTROL.
    if (uri === undefined && id === owner) continue;
    if (uri !== ALL_USERS && uri !== AUTH_USERS) return undefined;
    grants.add(`${uri} ${permission}`);
  }
  const want = [...grants].sort().join('\n');
  return CANNED.find(([, g]) => g === want)?.[0];
}

export const anyoneMayRead = (acl: CannedAcl): boolean => acl === 'public-read' || acl === 'public-read-write';

/** The header a copy is written with: none for `private`, every provider's default. */
export function aclHeaders(acl: CannedAcl | undefined): Record<string, string> {
  return acl === undefined || acl === 'private' ? {} : { 'x-amz-acl': acl };
}

/** The object's canned ACL at a provider, or why there is none to carry. */
export async function readCannedAcl(up: Upstream, bucket: string, key: string): Promise<{ acl: CannedAcl } | Unread> {
  try {
    const r = await callUpstream(up, { operation: 'GetObjectAcl', method: 'GET', bucket, key, query: [['acl', '']] });
    const doc = await text(r);
    if (r.status !== 200) return { why: `GetObjectAcl answered ${r.status}`, status: r.status, code: /<Code>([^<]*)<\/Code>/.exec(doc)?.[1] ?? `HTTP${r.status}` };
    const acl = cannedFromPolicy(doc);
    return acl ? { acl } : { why: 'its ACL is not a canned ACL' };
  } catch (e) {
    return { why: `GetObjectAcl failed: ${(e as Error).message}`, status: 0, code: 'NetworkError' };
  }
}

/** Why there is no canned ACL to carry; `status` where the provider did not answer the ACL (0: no answer at all). */
export interface Unread {
  why: string;
  status?: number;
  code?: string;
}

/** What a copy of one object carries: its canned ACL as a header, or why it must not be copied. */
export type AclPlan = { acl?: CannedAcl; headers: Record<string, string> } | ({ skip: string } & Omit<Unread, 'why'>);

/**
 * Whether and how an object may be copied from one provider to another without changing who may
 * read it. `anonymous`: the copy is made on an anonymous read, so the new side's ACL must let
 * anyone read it too.
 */
export async function planAcl(from: Upstream, fromBucket: string, to: Upstream, key: string, anonymous: boolean): Promise<AclPlan> {
  if (!from.profile.cannedAcls) {
    // Nothing to carry: who may read the copy is the new provider's bucket-level setting, as it
    // is the old one's. An anonymous read cannot know the new side would allow it.
    return anonymous ? { skip: 'the old provider keeps no object ACLs, so an anonymous read copies nothing' } : { headers: {} };
  }
  const got = await readCannedAcl(from, fromBucket, key);
  if ('why' in got) {
    const { why, ...rest } = got;
    return { skip: why, ...rest };
  }
  if (anonymous && !anyoneMayRead(got.acl)) return { skip: `its ACL (${got.acl}) would not let the new provider serve an anonymous read` };
  if (got.acl !== 'private' && !to.profile.cannedAcls) return { skip: `the new provider keeps no object ACLs; the copy would not be ${got.acl}` };
  return { acl: got.acl, headers: to.profile.cannedAcls ? aclHeaders(got.acl) : {} };
}
