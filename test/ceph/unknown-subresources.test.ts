// RGW 16 does not know S3's newer sub-resources, and runs the plain operation in their place:
// GET ?encryption lists the bucket, DELETE ?ownershipControls deletes it when empty, PUT
// ?attributes on an object replaces its bytes. So through s3gate, with the linode preset (RGW 16),
// each operation RGW does not know answers 501 NotImplemented, each sub-resource and method pair
// S3 does not define answers 405, and nothing reaches RGW: the bucket and the object survive.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteBucketOwnershipControlsCommand, GetBucketEncryptionCommand, GetObjectAttributesCommand, PutBucketEncryptionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { sendSigned } from '../helpers/signed-raw.js';
import { client, DOMAIN, failure, GW_KEY, portOf, startTestGateway } from '../helpers/gateway.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
const run = randomBytes(4).toString('hex');
const name = (what: string) => `unk-${what.toLowerCase().replace(/[^a-z0-9]/g, '')}-${run}`;

// What RGW 16 was found not to know (config/providers/linode.yaml), and an id where S3 wants one.
const UNKNOWN_BUCKET = [
  'encryption', 'ownershipControls', 'accelerate', 'analytics', 'inventory', 'metrics', 'intelligent-tiering', 'metadataTable', 'metadataConfiguration', 'session',
  // S3's 2025 operations, newer than any RGW; listed without a probe of their own.
  'abac', 'metadataInventoryTable', 'metadataJournalTable',
];
const WITH_ID = new Set(['analytics', 'inventory', 'metrics', 'intelligent-tiering']);

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a } },
    buckets: { '*': { upstream: 'rgw' } },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
}, 10 * 60_000);

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

const direct = (method: string, path: string, query: [string, string][], body?: string) => {
  const url = new URL(ceph.endpoint);
  return sendSigned(Number(url.port), ceph.users.a, 'v4-header', { method, host: url.host, path, query, ...(body !== undefined ? { body } : {}) });
};
const through = (method: string, path: string, query: [string, string][], body?: string) =>
  sendSigned(portOf(gw.url), GW_KEY, 'v4-header', { method, host: `${DOMAIN}:${portOf(gw.url)}`, path, query, ...(body !== undefined ? { body } : {}) });
const code = (r: { status: number; body: string }) => `${r.status} ${/<Code>([^<]*)/.exec(r.body)?.[1] ?? ''}`;

describe('sub-resources RGW 16 does not know', { timeout: 120_000 }, () => {
  it('RGW 16 itself runs the plain operation in their place: lists, deletes the bucket, replaces the object', async () => {
    const b = name('direct');
    expect((await direct('PUT', `/${b}`, [])).status).toBe(200);
    expect((await direct('GET', `/${b}`, [['encryption', '']])).body).toContain('<ListBucketResult');
    expect((await direct('PUT', `/${b}/k`, [], 'original')).status).toBe(200);
    expect((await direct('GET', `/${b}/k`, [['attributes', '']])).body).toBe('original');
    expect((await direct('PUT', `/${b}/k`, [['attributes', '']], 'replaced')).status).toBe(200);
    expect((await direct('GET', `/${b}/k`, [])).body).toBe('replaced');
    expect((await direct('DELETE', `/${b}/k`, [])).status).toBe(204);
    // DELETE with a sub-resource it does not know: the (empty) bucket is gone.
    expect((await direct('DELETE', `/${b}`, [['ownershipControls', '']])).status).toBe(204);
    expect((await direct('HEAD', `/${b}`, [])).status).toBe(404);
  });

  it('through s3gate each answers 501 NotImplemented (405 where S3 defines no such operation), and the bucket stays', async () => {
    const b = name('through');
    expect((await through('PUT', `/${b}`, [])).status).toBe(200);
    const seen: string[] = [];
    for (const sub of UNKNOWN_BUCKET) {
      const q: [string, string][] = [[sub, ''], ...(WITH_ID.has(sub) ? [['id', 'a'] as [string, string]] : [])];
      for (const method of ['GET', 'PUT', 'DELETE']) seen.push(`${method} ?${sub} ${code(await through(method, `/${b}`, q, method === 'PUT' ? '<x/>' : undefined))}`);
    }
    const undefinedPairs = new Set([
      'DELETE ?accelerate', 'PUT ?metadataTable', 'PUT ?metadataConfiguration', 'PUT ?session', 'DELETE ?session', 'DELETE ?abac',
      'GET ?metadataInventoryTable', 'DELETE ?metadataInventoryTable', 'GET ?metadataJournalTable', 'DELETE ?metadataJournalTable',
    ]);
    for (const line of seen) {
      const pair = line.split(' ').slice(0, 2).join(' ');
      expect(line).toBe(`${pair} ${undefinedPairs.has(pair) ? '405 MethodNotAllowed' : '501 NotImplemented'}`);
    }
    // The metadata configurations are created by a POST, which RGW would take for a form upload.
    for (const sub of ['metadataTable', 'metadataConfiguration']) seen.push(`POST ?${sub} ${code(await through('POST', `/${b}`, [[sub, '']], '<x/>'))}`);
    expect(seen.slice(-2)).toEqual(['POST ?metadataTable 501 NotImplemented', 'POST ?metadataConfiguration 501 NotImplemented']);
    // Pairs S3 does not define on sub-resources RGW does know: never a DeleteBucket.
    for (const sub of ['versioning', 'acl', 'requestPayment', 'object-lock', 'policyStatus']) {
      expect(`${sub} ${code(await through('DELETE', `/${b}`, [[sub, '']]))}`).toBe(`${sub} 405 MethodNotAllowed`);
    }
    expect((await direct('HEAD', `/${b}`, [])).status).toBe(200);

    // The SDK's own commands meet the same answer.
    const notImplemented = async (p: Promise<unknown>) => expect((await failure(p)).$metadata.httpStatusCode).toBe(501);
    await notImplemented(s3.send(new GetBucketEncryptionCommand({ Bucket: b })));
    await notImplemented(s3.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } })));
    await notImplemented(s3.send(new DeleteBucketOwnershipControlsCommand({ Bucket: b })));
    expect((await direct('HEAD', `/${b}`, [])).status).toBe(200);
  });

  it('a sub-resource at a level or with a method that names no S3 operation: RGW runs DeleteBucket, DeleteObject or PutObject; s3gate answers 405 and sends nothing', async () => {
    const b = name('level');
    expect((await direct('PUT', `/${b}`, [])).status).toBe(200);
    expect((await direct('PUT', `/${b}/k`, [], 'original')).status).toBe(200);
    // RGW itself: the object's DELETE ?lifecycle deletes it, its PUT ?lifecycle replaces it, and
    // the bucket's DELETE ?uploads deletes the bucket once empty.
    expect((await direct('PUT', `/${b}/k`, [['lifecycle', '']], 'replaced')).status).toBe(200);
    expect((await direct('GET', `/${b}/k`, [])).body).toBe('replaced');
    expect((await direct('DELETE', `/${b}/k`, [['lifecycle', '']])).status).toBe(204);
    expect((await direct('GET', `/${b}/k`, [])).status).toBe(404);
    expect((await direct('PUT', `/${b}/k`, [], 'original')).status).toBe(200);

    const seen: string[] = [];
    const ask = async (method: string, path: string, q: [string, string][], body?: string) =>
      seen.push(`${method} ${path.includes('/k') ? 'object' : 'bucket'}?${q[0]![0]} ${code(await through(method, path, q, body))}`);
    for (const sub of ['uploads', 'versions', 'delete', 'uploadId', 'restore', 'select', 'attributes', 'retention']) await ask('DELETE', `/${b}`, [[sub, 'x']]);
    for (const sub of ['uploads', 'versions', 'delete', 'lifecycle', 'policy', 'versioning', 'cors', 'website']) {
      await ask('DELETE', `/${b}/k`, [[sub, '']]);
      await ask('PUT', `/${b}/k`, [[sub, '']], 'replaced');
    }
    await ask('PUT', `/${b}/k`, [['uploadId', 'x']], 'replaced'); // an uploadId without a partNumber is no UploadPart
    await ask('POST', `/${b}`, [['acl', '']], 'x');
    expect(seen.filter((l) => !l.endsWith(' 405 MethodNotAllowed'))).toEqual([]);
    expect((await direct('GET', `/${b}/k`, [])).body).toBe('original');

    // UpdateObjectEncryption (PUT ?encryption on an object) is S3's, and refused until supported:
    // RGW 16 would take it for a PutObject and replace the bytes with the request body.
    expect(code(await through('PUT', `/${b}/k`, [['encryption', '']], '<ObjectEncryption/>'))).toBe('501 NotImplemented');
    expect((await direct('GET', `/${b}/k`, [])).body).toBe('original');
    expect((await direct('PUT', `/${b}/k`, [['encryption', '']], 'replaced')).status).toBe(200);
    expect((await direct('GET', `/${b}/k`, [])).body).toBe('replaced');
    expect((await direct('DELETE', `/${b}/k`, [])).status).toBe(204);
    // Empty now, the bucket survives what RGW would have taken for DeleteBucket.
    expect(code(await through('DELETE', `/${b}`, [['uploads', '']]))).toBe('405 MethodNotAllowed');
    expect((await direct('HEAD', `/${b}`, [])).status).toBe(200);
    expect((await direct('DELETE', `/${b}`, [['uploads', '']])).status).toBe(204);
    expect((await direct('HEAD', `/${b}`, [])).status).toBe(404);
  });

  it('through s3gate GetObjectAttributes answers 501, and PUT or DELETE with an object sub-resource S3 does not define answers 405; the object stays', async () => {
    const b = name('object');
    expect((await through('PUT', `/${b}`, [])).status).toBe(200);
    expect((await through('PUT', `/${b}/k`, [], 'original')).status).toBe(200);
    expect((await failure(s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', ObjectAttributes: ['ETag', 'ObjectSize'] })))).$metadata.httpStatusCode).toBe(501);
    expect(code(await through('PUT', `/${b}/k`, [['attributes', '']], 'replaced'))).toBe('405 MethodNotAllowed');
    expect(code(await through('PUT', `/${b}/k`, [['torrent', '']], 'replaced'))).toBe('405 MethodNotAllowed');
    for (const sub of ['acl', 'retention', 'legal-hold', 'attributes', 'torrent']) {
      expect(`${sub} ${code(await through('DELETE', `/${b}/k`, [[sub, '']]))}`).toBe(`${sub} 405 MethodNotAllowed`);
    }
    expect((await direct('GET', `/${b}/k`, [])).body).toBe('original');
  });
});
