// mode: mirror keeps who may read an object the same on both sides: a PutObjectAcl reaches the
// mirror as the canned ACL the primary then holds, and an object replicated after a multipart
// upload carries the primary's ACL. Primary: the local store; mirror: Ceph RGW 16; client: the JS SDK.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  GetObjectAclCommand, PutObjectAclCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { LocalStore } from '../../src/local/store.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';

const run = Math.random().toString(36).slice(2, 8);
const MIRROR = `mirror-acl-${run}`;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let s3: S3Client;
let rgw: S3Client;
let ceph: CephInfo | undefined;

const grants = async (c: S3Client, bucket: string, key: string) =>
  ((await c.send(new GetObjectAclCommand({ Bucket: bucket, Key: key }))).Grants ?? []).filter((g) => g.Grantee?.URI).map((g) => `${g.Grantee!.URI!.split('/').pop()} ${g.Permission}`).sort();

beforeAll(async () => {
  ceph = await ensureCeph();
  const a = { accessKeyId: ceph.users.a.accessKeyId, secretAccessKey: ceph.users.a.secretAccessKey };
  rgw = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...a }, maxAttempts: 1 });
  await rgw.send(new CreateBucketCommand({ Bucket: MIRROR }));
  const disk = tmpDir('s3gate-mirror-acl-');
  await new LocalStore(disk).handle({ method: 'PUT', bucket: 'mir', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  gw = await startTestGateway({
    admin: { address: '127.0.0.1:0' },
    domains: [DOMAIN],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      disk: { provider: 'local', path: disk },
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: a },
    },
    buckets: { mir: { upstream: 'disk', mode: 'mirror', mirror: { upstream: 'rgw', bucket: MIRROR } } },
  });
  s3 = client(`http://${DOMAIN}:${portOf(gw.url)}`, GW_KEY, { forcePathStyle: true });
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(ceph, (name) => name.endsWith(run));
});

describe('mirror: ACLs', () => {
  it('PutObject with ACL public-read: public on both (the header travels with the write)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'mir', Key: 'at-once.txt', Body: 'x', ACL: 'public-read' }));
    expect(await grants(s3, 'mir', 'at-once.txt')).toEqual(['AllUsers READ']);
    expect(await grants(rgw, MIRROR, 'at-once.txt')).toEqual(['AllUsers READ']);
  });

  it('PutObjectAcl public-read, then private: the mirror follows each', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'mir', Key: 'later.txt', Body: 'x' }));
    expect(await grants(rgw, MIRROR, 'later.txt')).toEqual([]);
    await s3.send(new PutObjectAclCommand({ Bucket: 'mir', Key: 'later.txt', ACL: 'public-read' }));
    expect(await grants(s3, 'mir', 'later.txt')).toEqual(['AllUsers READ']);
    expect(await grants(rgw, MIRROR, 'later.txt')).toEqual(['AllUsers READ']);
    await s3.send(new PutObjectAclCommand({ Bucket: 'mir', Key: 'later.txt', ACL: 'private' }));
    expect(await grants(rgw, MIRROR, 'later.txt')).toEqual([]);
  });

  it('a multipart upload created public-read is replicated to the mirror public-read', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mir', Key: 'mp.bin', ACL: 'public-read' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'mir', Key: 'mp.bin', UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 7) }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mir', Key: 'mp.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    expect(await grants(s3, 'mir', 'mp.bin')).toEqual(['AllUsers READ']);
    expect(await grants(rgw, MIRROR, 'mp.bin')).toEqual(['AllUsers READ']);
  });
});
