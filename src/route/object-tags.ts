// Object tags carried across a migration (copy-on-read and `s3gate migrate`). A GET answers only
// how many tags the object has (x-amz-tagging-count), never the tags, so a copy made from a GET's
// headers alone arrives with none. Where the count is above 0 the tags are read at the old
// provider with s3gate's own credentials (GetObjectTagging, signed as any provider request) and
// the copy is written with them as x-amz-tagging. Tags that cannot be read stop the copy: an
// object must not arrive at the new provider without them.
import type { Upstream } from '../config/types.js';
import { callUpstream, text } from '../forward/client.js';
import type { UpstreamResponse } from '../forward/forward.js';
import { taggingHeader } from '../s3/tagging.js';
import type { Unread } from './object-acl.js';

/** How many tags a GET (or, at some providers, a HEAD) says the object has: 0 where it says nothing. */
export function tagCount(headers: UpstreamResponse['headers']): number {
  const v = headers['x-amz-tagging-count'];
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** The object's tags at a provider as an x-amz-tagging value, or why they could not be read. */
export async function readTagging(up: Upstream, bucket: string, key: string): Promise<{ tagging: string } | Unread> {
  try {
    const r = await callUpstream(up, { operation: 'GetObjectTagging', method: 'GET', bucket, key, query: [['tagging', '']] });
    const doc = await text(r);
    if (r.status !== 200) return { why: `GetObjectTagging answered ${r.status}`, status: r.status, code: /<Code>([^<]*)<\/Code>/.exec(doc)?.[1] ?? `HTTP${r.status}` };
    try {
      return { tagging: taggingHeader(doc) };
    } catch {
      return { why: 'GetObjectTagging answered a document that is not a TagSet' };
    }
  } catch (e) {
    return { why: `GetObjectTagging failed: ${(e as Error).message}`, status: 0, code: 'NetworkError' };
  }
}
