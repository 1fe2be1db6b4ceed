// RGW 16 answers most errors with an empty <Message>, and the AWS CLI v1 then fails on each with
// "argument of type 'NoneType' is not iterable" in place of the error (its s3errormsg
// customization searches the message). Through s3gate the error carries S3's message for its code.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { awsCli } from '../sts/helpers.js';
import { sendSigned } from '../helpers/signed-raw.js';
import { DOMAIN, GW_KEY, portOf, startTestGateway } from '../helpers/gateway.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
const run = randomBytes(4).toString('hex');
const bucket = `errmsg-${run}`;

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await startTestGateway({
    domains: [DOMAIN, '127.0.0.1'],
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: { rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a } },
    buckets: { '*': { upstream: 'rgw' } },
  });
  const url = new URL(ceph.endpoint);
  expect((await sendSigned(Number(url.port), ceph.users.a, 'v4-header', { method: 'PUT', host: url.host, path: `/${bucket}`, query: [] })).status).toBe(200);
  expect((await sendSigned(Number(url.port), ceph.users.a, 'v4-header', { method: 'PUT', host: url.host, path: `/${bucket}/kept`, query: [], body: 'x' })).status).toBe(200);
}, 10 * 60_000);

afterAll(async () => {
  await gw?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

const cli = (endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, args: string[]) =>
  awsCli(['--endpoint-url', endpoint, '--output', 'json', ...args], { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey });

describe("the AWS CLI's error messages through s3gate into RGW 16", { timeout: 120_000 }, () => {
  it('directly, RGW 16 gives no message and the CLI fails on it; through s3gate each error reads as S3 words it', async () => {
    const missing = ['s3api', 'get-object', '--bucket', bucket, '--key', 'missing', '/dev/null'];
    const direct = await cli(ceph.endpoint, ceph.users.a, missing);
    expect([direct.code, direct.stderr.trim()]).toEqual([255, "argument of type 'NoneType' is not iterable"]);

    const through = (args: string[]) => cli(gw.url, GW_KEY, args);
    const lines = [
      (await through(missing)).stderr,
      (await through(['s3api', 'delete-bucket', '--bucket', bucket])).stderr,
      (await through(['s3api', 'list-objects-v2', '--bucket', `nothere-${run}`])).stderr,
      (await through(['s3api', 'get-object-tagging', '--bucket', bucket, '--key', 'missing'])).stderr,
    ].map((s) => s.trim());
    expect(lines).toEqual([
      'An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist.',
      'An error occurred (BucketNotEmpty) when calling the DeleteBucket operation: The bucket you tried to delete is not empty',
      'An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist',
      'An error occurred (NoSuchKey) when calling the GetObjectTagging operation: The specified key does not exist.',
    ]);
  });
});
