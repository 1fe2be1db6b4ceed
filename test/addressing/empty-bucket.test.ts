// A path-style request whose first segment is empty (`GET //x`) names the empty bucket, which S3
// refuses with 400 InvalidBucketName; it is not the service endpoint, so never ListBuckets (#19).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { client, DOMAIN, GW_KEY, portOf, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { codeOf, rawExchange, sendSigned } from '../helpers/signed-raw.js';

describe('an empty bucket name in a path-style request', () => {
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let port: number;

  beforeAll(async () => {
    gw = await startTestGateway({
      domains: [DOMAIN],
      keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
      upstreams: { disk: { provider: 'local', path: tmpDir('s3gate-empty-bucket-') } },
      buckets: { '*': { upstream: 'disk', public: 'acl' } },
    });
    port = portOf(gw.url);
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'demo' }));
  });
  afterAll(async () => gw?.close());

  for (const path of ['//x', '//', '//demo/x']) {
    it(`signed GET ${path} on the gateway's domain is 400 InvalidBucketName, not ListBuckets`, async () => {
      const r = await sendSigned(port, GW_KEY, 'v4-header', { method: 'GET', host: `${DOMAIN}:${port}`, path });
      expect(r.status).toBe(400);
      expect(codeOf(r)).toBe('InvalidBucketName');
      expect(r.body).not.toContain('ListAllMyBucketsResult');
      expect(r.body).toContain(`<RequestId>${r.headers['x-amz-request-id']}</RequestId>`);
    });
  }

  it('anonymous GET //x and a Host that is no gateway domain (an IP) are refused the same way', async () => {
    for (const host of [`${DOMAIN}:${port}`, `127.0.0.1:${port}`]) {
      const r = await rawExchange(port, Buffer.from(`GET //x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      expect(r.status, host).toBe(400);
      expect(codeOf(r), host).toBe('InvalidBucketName');
    }
  });

  it('what stays as it was: GET / is ListBuckets, and a virtual-host key may begin with a slash', async () => {
    const s3 = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: true });
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toContain('demo');
    const vh = client(`http://${DOMAIN}:${port}`, GW_KEY, { forcePathStyle: false });
    await vh.send(new PutObjectCommand({ Bucket: 'demo', Key: '/x', Body: 'slash' }));
    expect(await (await vh.send(new GetObjectCommand({ Bucket: 'demo', Key: '/x' }))).Body!.transformToString()).toBe('slash');
  });
});
