// A CreateBucket's LocationConstraint names the region the client signs for: `aws s3 mb` sends its
// region so, and with R2's settings (`auto`) RGW 16 refuses it (InvalidLocationConstraint), as it
// refuses any name but its zonegroup's. s3gate takes `auto` and the names it accepts as its own
// region, so the provider gets its own region's name for them, or none where that is us-east-1
// (which AWS refuses to be named). Any other name reaches the provider as the client wrote it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetBucketLocationCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureCeph, type CephInfo } from './ceph.js';
import { removeCephBuckets } from './cleanup.js';
import { client, failure, GW_KEY, startTestGateway } from '../helpers/gateway.js';
import { ALL_ACTIONS, rgwAndDiskGateway } from './rgw-and-disk.js';
import { awsCli } from '../sts/helpers.js';

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let named: Awaited<ReturnType<typeof startTestGateway>>;
let direct: S3Client;
const run = randomBytes(4).toString('hex');

beforeAll(async () => {
  ceph = await ensureCeph();
  gw = await rgwAndDiskGateway(ceph, 'create-location');
  // The provider's region given by its own name: RGW's zonegroup is `default`.
  named = await startTestGateway({
    domains: ['127.0.0.1'], acceptRegions: ['dummy'], keys: [ALL_ACTIONS],
    upstreams: { rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'default', credentials: ceph.users.a } },
    buckets: { '*': { upstream: 'rgw' } },
  });
  direct = new S3Client({ endpoint: ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...ceph.users.a }, maxAttempts: 1 });
}, 10 * 60_000);

afterAll(async () => {
  direct?.destroy();
  await gw?.close();
  await named?.close();
  await removeCephBuckets(ceph, (b) => b.endsWith(run));
}, 60_000);

const withConstraint = (c: S3Client, Bucket: string, LocationConstraint: string) =>
  c.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: LocationConstraint as never } }));

describe('CreateBucket naming the region the client signs for', () => {
  it('RGW 16 directly refuses `auto` and `us-east-1` as constraints', async () => {
    for (const lc of ['auto', 'us-east-1']) {
      const e = await failure(withConstraint(direct, `loc-direct-${lc}-${run}`, lc));
      expect([lc, e.name]).toEqual([lc, 'InvalidLocationConstraint']);
    }
  });

  it('`aws s3 mb` with R2\'s region `auto` makes the bucket through s3gate', async () => {
    const bucket = `loc-mb-auto-${run}`;
    const env = { AWS_ACCESS_KEY_ID: GW_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: GW_KEY.secretAccessKey, AWS_DEFAULT_REGION: 'auto' };
    const mb = await awsCli(['--endpoint-url', gw.url, 's3', 'mb', `s3://${bucket}`], env);
    expect(mb.stderr).toBe('');
    expect(mb.code).toBe(0);
    const loc = await awsCli(['--endpoint-url', gw.url, 's3api', 'get-bucket-location', '--bucket', bucket], env);
    expect(loc.out).toEqual({ LocationConstraint: null });
  });

  it('the JS SDK naming us-east-1 (the gateway\'s region), `auto`, or `aws-global` (the AWS CLI 2.9\'s with no region): made, with no constraint sent to RGW', async () => {
    for (const [region, lc] of [['us-east-1', 'us-east-1'], ['auto', 'auto'], ['us-east-1', 'aws-global']] as const) {
      const s3 = client(gw.url, GW_KEY, { forcePathStyle: true, region });
      await withConstraint(s3, `loc-${lc}-${run}`, lc);
      expect((await direct.send(new GetBucketLocationCommand({ Bucket: `loc-${lc}-${run}` }))).LocationConstraint).toBe('default');
      s3.destroy();
    }
  });

  it('a name the gateway accepts (`dummy`) becomes the provider\'s own (`default`)', async () => {
    const s3 = client(named.url, GW_KEY, { forcePathStyle: true, region: 'dummy' });
    await withConstraint(s3, `loc-dummy-${run}`, 'dummy');
    expect((await direct.send(new GetBucketLocationCommand({ Bucket: `loc-dummy-${run}` }))).LocationConstraint).toBe('default');
    s3.destroy();
  });

  it('any other name reaches the provider as written, and RGW refuses it', async () => {
    const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
    const e = await failure(withConstraint(s3, `loc-other-${run}`, 'eu-west-1'));
    expect([e.name, e.$metadata.httpStatusCode]).toEqual(['InvalidLocationConstraint', 400]);
    s3.destroy();
  });
});
