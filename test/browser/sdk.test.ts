// The AWS SDK for JavaScript v3 in a real browser, as a single-page app uses it: bundled for the
// browser by Vite, handed temporary credentials from s3gate's STS by its server, then ordinary calls
// with default settings (a CRC32 on every upload, lib-storage's multipart Upload) from a page on
// another origin. Two buckets: the local store with `cors:` in s3gate's config, and one on RGW 16
// whose rules were set with PutBucketCors. Every answer the page reads, errors included, it reads
// because CORS let it: RGW alone gives a wrong signature's 403 no CORS headers (the page would see
// "Failed to fetch"), and answers a multipart Upload with an empty ETag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutBucketCorsCommand } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, GW_KEY, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';
import { SEAL_K1 } from '../sts/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const BROWSER_TIMEOUT = 120_000;
const run = Math.random().toString(36).slice(2, 8);
const rgwBucket = `browser-sdk-${run}`;

let ceph: CephInfo;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let site: http.Server;
let origin: string;
let browser: Browser;
let built: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run test/system-deps.sh (Debian package chromium)`);
  built = tmpDir('s3gate-sdk-page-');
  await build({ root: fileURLToPath(new URL('./sdk-page/', import.meta.url)), logLevel: 'warn', configFile: false, build: { outDir: built, emptyOutDir: true } });
  site = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] === '/' ? '/index.html' : (req.url ?? '/').split('?')[0]!;
    const file = join(built, path);
    if (path.includes('..') || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': extname(file) === '.js' ? 'text/javascript' : 'text/html; charset=utf-8' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

  ceph = await ensureCeph();
  // ETag and x-amz-checksum-crc32 exposed, as a multipart Upload needs them since the SDK's CRC32
  // default: a part's checksum the page cannot read is left out of CompleteMultipartUpload, and S3
  // (and the local store) refuse it ("The complete request must include the checksum for each part").
  const rule = { allowedOrigins: [origin], allowedMethods: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'], allowedHeaders: ['*'], exposeHeaders: ['ETag', 'x-amz-checksum-crc32', 'x-amz-meta-who'] };
  gw = await startTestGateway({
    domains: ['127.0.0.1'],
    region: 'us-east-1',
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete', 'admin'] }] }],
    upstreams: {
      disk: { provider: 'local', path: tmpDir('s3gate-sdk-local-') },
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
    },
    buckets: { 'sdk-local': { upstream: 'disk', cors: [rule] }, [rgwBucket]: { upstream: 'rgw' } },
    // The page's server hands it a role's credentials: writes under sdk/ only.
    roles: { page: { assumableBy: [GW_KEY.accessKeyId], allow: [{ bucket: '*', prefix: 'sdk/', actions: ['read', 'write', 'list', 'delete'] }] } },
    sts: { sealingKeys: [SEAL_K1] },
  });
  const admin = client(gw.url, GW_KEY, { forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: 'sdk-local' }));
  await admin.send(new CreateBucketCommand({ Bucket: rgwBucket }));
  await admin.send(new PutBucketCorsCommand({
    Bucket: rgwBucket,
    CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin], AllowedMethods: rule.allowedMethods, AllowedHeaders: ['*'], ExposeHeaders: rule.exposeHeaders }] },
  }));
  admin.destroy();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: BROWSER_TIMEOUT,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, BROWSER_TIMEOUT * 3);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await new Promise((r) => site?.close(r));
  if (built) await rm(built, { recursive: true, force: true });
  if (ceph) await removeCephBuckets(ceph, (b) => b === rgwBucket);
}, BROWSER_TIMEOUT);

async function inPage(bucket: string): Promise<Record<string, unknown>> {
  const sts = new STSClient({ endpoint: gw.url, region: 'us-east-1', credentials: GW_KEY });
  const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/page', RoleSessionName: 'spa' }));
  sts.destroy();
  const credentials = { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! };
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`, { timeout: BROWSER_TIMEOUT });
    await page.waitForFunction(() => typeof (window as unknown as { runS3?: unknown }).runS3 === 'function', undefined, { timeout: BROWSER_TIMEOUT });
    return await page.evaluate(
      (a) => (window as unknown as { runS3: (x: unknown) => Promise<Record<string, unknown>> }).runS3(a),
      { endpoint: gw.url, bucket, credentials },
    );
  } finally {
    await page.close();
  }
}

describe('the JS SDK v3 in Chromium, on another origin, with s3gate\'s temporary credentials', () => {
  it.each([['the local store, `cors:` in s3gate\'s config', 'sdk-local'], ['RGW 16, rules set with PutBucketCors', rgwBucket]])('%s: every call works, every error is read as S3 names it', async (_name, bucket) => {
    const out = await inPage(bucket);
    expect(out).toMatchObject({
      put: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      putBytes: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      get: { text: 'hello from the page', etag: out.put, who: 'browser', type: 'text/plain' },
      getChecked: 100_000,
      head: 19,
      list: ['sdk/bytes.bin', 'sdk/hello ü.txt'],
      upload: { etag: expect.stringMatching(/^"[0-9a-f]{32}-3"$/), size: 11 * 1024 * 1024 },
      missing: 'error NoSuchKey',
      outsideGrant: 'error AccessDenied',
      wrongSecret: 'error SignatureDoesNotMatch',
      delete: 0,
    });
    expect((out.upload as { etag: string; headEtag: string }).etag).toBe((out.upload as { headEtag: string }).headEtag);
  }, BROWSER_TIMEOUT * 2);
});
