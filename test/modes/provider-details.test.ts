// Provider details stay behind s3gate (#18 finding 5): a provider's redirects, the account in a
// KMS key ARN, its region, and the bucket settings that carry its account never reach a client
// as the provider wrote them. The provider here answers what a real one would (canned answers of
// the fault-injecting upstream), naming its bucket prov-bucket-123, its account 123456789012 and
// its region eu-west-1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetBucketAclCommand, GetBucketLocationCommand, GetBucketLoggingCommand, GetBucketPolicyCommand, GetBucketVersioningCommand, GetObjectAclCommand, type S3Client } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startFaultyUpstream, type FaultyUpstream } from '../upstream/faulty.js';
import { testUndiciAgent } from '../upstream/resolve.js';
import { client, DOMAIN, failure, GW_KEY, GW_KEY_LIMITED, portOf, startTestGateway, UP_KEY } from '../helpers/gateway.js';

const PROVIDER = ['prov-bucket-123', '123456789012', 'eu-west-1', 'amazonaws'];
const xml = { 'content-type': 'application/xml' };

describe('provider details stay behind s3gate', () => {
  let up: FaultyUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let admin: S3Client;
  let reader: S3Client;
  const agent = testUndiciAgent();

  beforeAll(async () => {
    up = await startFaultyUpstream();
    gw = await startTestGateway({
      domains: [DOMAIN],
      keys: [
        { ...GW_KEY, allow: [{ bucket: 'leaky', actions: ['read', 'write', 'list', 'delete', 'admin'] }] },
        { ...GW_KEY_LIMITED, allow: [{ bucket: 'leaky', actions: ['read', 'write', 'list', 'delete'] }] },
      ],
      upstreams: { prov: { provider: 'minio', endpoint: up.url, credentials: UP_KEY } },
      buckets: { leaky: { upstream: 'prov', bucket: 'prov-bucket-123' } },
    });
    const endpoint = `http://${DOMAIN}:${portOf(gw.url)}`;
    admin = client(endpoint, GW_KEY, { forcePathStyle: true });
    reader = client(endpoint, GW_KEY_LIMITED, { forcePathStyle: true });
  });

  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  /** A raw signed request through the gateway: everything the client would see of the answer. */
  async function raw(method: 'GET' | 'PUT', key: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    const cmd = method === 'GET' ? new GetObjectCommand({ Bucket: 'leaky', Key: key }) : new PutObjectCommand({ Bucket: 'leaky', Key: key });
    const url = await getSignedUrl(admin, cmd, { expiresIn: 300 });
    const r = await request(url, { method, dispatcher: agent, ...(method === 'PUT' ? { body: 'x' } : {}) });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  }

  const leaks = (r: { headers: Record<string, unknown>; body: string }) =>
    PROVIDER.filter((p) => JSON.stringify(r.headers).includes(p) || r.body.includes(p));

  it('a 301 PermanentRedirect becomes 500 InternalError, with no Location and no Endpoint', async () => {
    up.fault = {
      kind: 'canned', status: 301,
      headers: { ...xml, location: 'https://prov-bucket-123.s3.eu-west-1.amazonaws.com/k', 'x-amz-bucket-region': 'eu-west-1' },
      body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>prov-bucket-123.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>prov-bucket-123</Bucket></Error>',
    };
    for (const method of ['GET', 'PUT'] as const) {
      const r = await raw(method, 'k');
      expect(r.status).toBe(500);
      expect(r.body).toContain('<Code>InternalError</Code>');
      expect(r.headers.location).toBeUndefined();
      expect(leaks(r)).toEqual([]);
    }
  });

  it('an anonymous GET sent on unsigned (public: acl) gets the same: a 301 becomes 500, a 307 503, with no Location', async () => {
    const url = `http://${DOMAIN}:${portOf(gw.url)}/leaky/k`;
    for (const [status, code, expected] of [[301, 'PermanentRedirect', 500], [307, 'TemporaryRedirect', 503]] as const) {
      up.fault = {
        kind: 'canned', status,
        headers: { ...xml, location: 'https://prov-bucket-123.s3.eu-west-1.amazonaws.com/k' },
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Endpoint>prov-bucket-123.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>prov-bucket-123</Bucket></Error>`,
      };
      const r = await request(url, { dispatcher: agent });
      const body = await r.body.text();
      expect(r.statusCode).toBe(expected);
      expect(r.headers.location).toBeUndefined();
      expect(leaks({ headers: r.headers, body })).toEqual([]);
    }
  });

  it('a 307 TemporaryRedirect becomes 503 ServiceUnavailable, with no Location', async () => {
    up.fault = {
      kind: 'canned', status: 307,
      headers: { ...xml, location: 'https://prov-bucket-123.s3-eu-west-1.amazonaws.com/k' },
      body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>TemporaryRedirect</Code><Message>Please re-send this request to the specified temporary endpoint.</Message><Endpoint>prov-bucket-123.s3-eu-west-1.amazonaws.com</Endpoint><Bucket>prov-bucket-123</Bucket></Error>',
    };
    const r = await raw('GET', 'k');
    expect(r.status).toBe(503);
    expect(r.body).toContain('<Code>ServiceUnavailable</Code>');
    expect(r.headers.location).toBeUndefined();
    expect(leaks(r)).toEqual([]);
  });

  it('an SSE-KMS answer gives the key id without the account, and no encryption context or provider region', async () => {
    const context = Buffer.from(JSON.stringify({ 'aws:s3:arn': 'arn:aws:s3:::prov-bucket-123/k' })).toString('base64');
    up.fault = {
      kind: 'canned', status: 200,
      headers: {
        'content-type': 'text/plain', 'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        'x-amz-server-side-encryption-context': context, 'x-amz-bucket-region': 'eu-west-1',
      },
      body: 'secret bytes',
    };
    const r = await raw('GET', 'k');
    expect(r.status).toBe(200);
    expect(r.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe('1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(r.headers['x-amz-server-side-encryption-context']).toBeUndefined();
    expect(leaks(r)).toEqual([]);
  });

  it('a KMS key header the provider sends twice loses the account in each value', async () => {
    up.fault = {
      kind: 'canned', status: 200,
      headers: {
        'content-type': 'text/plain', 'X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id': [
          'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:eu-west-1:123456789012:alias/prov',
        ],
      },
      body: 'secret bytes',
    };
    const r = await raw('GET', 'k');
    expect(r.status).toBe(200);
    expect(r.headers['x-amz-server-side-encryption-aws-kms-key-id']).toEqual(['1234abcd-12ab-34cd-56ef-1234567890ab', 'alias/prov']);
    expect(leaks(r)).toEqual([]);
  });

  it('GetBucketLocation answers s3gate\'s region, not the provider\'s', async () => {
    up.fault = { kind: 'canned', status: 200, headers: xml, body: '<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>' };
    const r = await reader.send(new GetBucketLocationCommand({ Bucket: 'leaky' }));
    expect(r.LocationConstraint ?? '').toBe('');
  });

  it('bucket settings that carry the provider\'s account need admin on the bucket; others are rewritten', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::prov-bucket-123/*' }] });
    up.fault = { kind: 'canned', status: 200, headers: { 'content-type': 'application/json' }, body: policy };
    const before = up.requests.length;
    for (const cmd of [
      new GetBucketPolicyCommand({ Bucket: 'leaky' }), new GetBucketLoggingCommand({ Bucket: 'leaky' }),
      new GetBucketAclCommand({ Bucket: 'leaky' }), new GetObjectAclCommand({ Bucket: 'leaky', Key: 'k' }),
    ]) {
      const e = await failure(reader.send(cmd as never));
      expect(e.name, cmd.constructor.name).toBe('AccessDenied');
    }
    // Refused before anything was forwarded.
    expect(up.requests.length).toBe(before);
    // The operator (admin on the bucket) reads the provider's configuration as it is.
    expect((await admin.send(new GetBucketPolicyCommand({ Bucket: 'leaky' }))).Policy).toBe(policy);
    // Settings with nothing of the account in them pass, with the provider's names rewritten.
    up.fault = { kind: 'canned', status: 200, headers: xml, body: '<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' };
    expect((await reader.send(new GetBucketVersioningCommand({ Bucket: 'leaky' }))).Status).toBe('Enabled');
  });
});
