// Issue #8: a page on another origin uploads through s3gate with a presigned PUT, in a real
// browser. Chromium sends the preflight (PUT is not a simple method), s3gate answers it from the
// bucket's CORS rules without a signature, the PUT and a presigned GET go through to the strict
// upstream, and the page can read the ETag only because the rule exposes it. A page on an origin
// the rule does not name is stopped by the browser at the preflight, and nothing is stored. A
// bucket on RGW with no `cors:` in s3gate's config keeps RGW's rules (PutBucketCors): its preflight
// goes to RGW, and the same page uploads there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutBucketCorsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { ensureCeph, type CephInfo } from '../ceph/ceph.js';
import { removeCephBuckets } from '../ceph/cleanup.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/s3gate-browser.png';
const SCREENSHOT_DENIED = '/tmp/s3gate-browser-denied.png';
// Starting a browser on a busy machine can take a while; nothing here asserts on time.
const BROWSER_TIMEOUT = 120_000;

// The page does what a web app would: a Blob made in the page, PUT to the presigned URL it was
// handed, then read back with a presigned GET. Everything it sees goes into the DOM.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>s3gate browser upload</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 24px; }
  dt { font-weight: bold; margin-top: 6px; } dd { font-family: monospace; margin-left: 16px; word-break: break-all; }
  .ok { color: #060; } .failed { color: #a00; } pre { white-space: pre-wrap; word-break: break-all; }
</style></head>
<body>
<h1>Upload through s3gate from <span id="origin"></span></h1>
<button id="go">Upload</button>
<h2 id="state">not started</h2>
<dl>
  <dt>PUT status</dt><dd id="putStatus">-</dd>
  <dt>ETag from the PUT response</dt><dd id="putEtag">-</dd>
  <dt>GET status</dt><dd id="getStatus">-</dd>
  <dt>ETag from the GET response</dt><dd id="getEtag">-</dd>
  <dt>Text read back</dt><dd id="text">-</dd>
  <dt>Error</dt><dd id="error">-</dd>
</dl>
<pre id="result"></pre>
<script>
  const q = new URLSearchParams(location.search);
  document.getElementById('origin').textContent = location.origin;
  const show = (id, v) => { if (v !== undefined && v !== null) document.getElementById(id).textContent = String(v); };
  document.getElementById('go').addEventListener('click', async () => {
    const out = { origin: location.origin };
    try {
      const blob = new Blob([q.get('text')], { type: 'text/plain' });
      const put = await fetch(q.get('put'), { method: 'PUT', body: blob, headers: { 'content-type': 'text/plain' } });
      out.putStatus = put.status;
      out.putEtag = put.headers.get('etag');
      await put.text();
      const get = await fetch(q.get('get'));
      out.getStatus = get.status;
      out.getEtag = get.headers.get('etag');
      out.text = await get.text();
    } catch (e) {
      out.error = e.name + ': ' + e.message;
    }
    for (const k of ['putStatus', 'putEtag', 'getStatus', 'getEtag', 'text', 'error']) show(k, out[k]);
    const state = document.getElementById('state');
    state.textContent = out.error ? 'failed' : 'done';
    state.className = out.error ? 'failed' : 'ok';
    document.getElementById('result').textContent = JSON.stringify(out);
    document.body.dataset.state = state.textContent;
  });
</script>
</body></html>`;

interface PageResult {
  origin: string;
  putStatus?: number;
  putEtag?: string | null;
  getStatus?: number;
  getEtag?: string | null;
  text?: string;
  error?: string;
}

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let gwPort: number;
let allowed: http.Server;
let other: http.Server;
let allowedPort: number;
let otherPort: number;
let context: BrowserContext;
let profile: string;
let ceph: CephInfo;
// A bucket on RGW 16 with no `cors:` in s3gate's config: its rules are RGW's, set with PutBucketCors.
const rgwBucket = `browser-cors-${Math.random().toString(36).slice(2, 8)}`;

function servePage(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/') {
      // The browser asks for /favicon.ico; an empty answer keeps its console free of 404s.
      res.writeHead(path === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const portOfServer = (s: http.Server) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  // The page servers come first: the allowed origin's port goes into the bucket's rule.
  allowed = await servePage();
  other = await servePage();
  allowedPort = portOfServer(allowed);
  otherPort = portOfServer(other);

  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  ceph = await ensureCeph();
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'admin'] }] }],
    upstreams: {
      strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
      rgw: { provider: 'linode', endpoint: ceph.endpoint, region: 'us-east-1', credentials: ceph.users.a },
    },
    buckets: {
      [rgwBucket]: { upstream: 'rgw' },
      uploads: {
        upstream: 'strict',
        cors: [{ allowedOrigins: [`http://127.0.0.1:${allowedPort}`], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['*'], exposeHeaders: ['ETag'] }],
      },
    },
  });
  gwPort = portOf(gw.url);
  await up.store.handle({ method: 'PUT', bucket: 'uploads', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  const s3 = client(`http://127.0.0.1:${gwPort}`, GW_KEY, { forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: rgwBucket }));
  await s3.send(new PutBucketCorsCommand({
    Bucket: rgwBucket,
    CORSConfiguration: { CORSRules: [{ AllowedOrigins: [`http://127.0.0.1:${allowedPort}`], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }] },
  }));
  s3.destroy();

  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run test/system-deps.sh (Debian package chromium)`);
  profile = tmpDir('s3gate-chromium-');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: BROWSER_TIMEOUT,
    viewport: { width: 900, height: 640 },
    args: [
      '--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}, BROWSER_TIMEOUT * 2);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await gw?.close();
  await up?.close();
  if (ceph) await removeCephBuckets(ceph, (b) => b === rgwBucket);
  await Promise.all([allowed, other].map((s) => s && new Promise((r) => s.close(r))));
}, BROWSER_TIMEOUT);

async function presigned(key: string, Bucket = 'uploads'): Promise<{ put: string; get: string }> {
  // s3gate's key, s3gate's URL, path-style: what an app server would hand its page.
  const s3 = client(`http://127.0.0.1:${gwPort}`, GW_KEY, { forcePathStyle: true });
  const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: key }), { expiresIn: 900 });
  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: 900 });
  s3.destroy();
  return { put, get };
}

async function stored(key: string): Promise<Buffer | undefined> {
  try {
    const r = await up.store.handle({ method: 'GET', bucket: 'uploads', key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    const parts: Buffer[] = [];
    for await (const c of r.body as Readable) parts.push(Buffer.from(c as Buffer));
    return Buffer.concat(parts);
  } catch {
    return undefined;
  }
}

/** Opens the page on the given port, clicks Upload and returns what the page wrote, plus its console errors. */
async function runPage(pagePort: number, urls: { put: string; get: string }, text: string): Promise<{ page: Page; result: PageResult; consoleErrors: string[] }> {
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  const qs = new URLSearchParams({ put: urls.put, get: urls.get, text });
  await page.goto(`http://127.0.0.1:${pagePort}/?${qs}`, { timeout: BROWSER_TIMEOUT });
  await page.click('#go', { timeout: BROWSER_TIMEOUT });
  await page.waitForSelector('body[data-state]', { timeout: BROWSER_TIMEOUT });
  const result = JSON.parse(await page.textContent('#result', { timeout: BROWSER_TIMEOUT }) ?? '{}') as PageResult;
  return { page, result, consoleErrors };
}

const gatewayLines = () => gw.sink.lines.filter((l) => l.msg === 'request');

describe('a browser on another origin uploads with a presigned PUT (issue #8)', () => {
  it('allowed origin: preflight answered by s3gate, PUT 200, ETag readable, text read back, bytes upstream', async () => {
    const key = 'from-browser/note.txt';
    const text = `uploaded by Chromium through s3gate — ünïcödé ✓ ${Date.now()}`;
    const before = gatewayLines().length;
    const { page, result, consoleErrors } = await runPage(allowedPort, await presigned(key), text);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.close();

    expect(result.error).toBeUndefined();
    expect(consoleErrors).toEqual([]);
    expect(result.origin).toBe(`http://127.0.0.1:${allowedPort}`);
    expect(result.putStatus).toBe(200);
    expect(result.getStatus).toBe(200);
    expect(result.text).toBe(text);

    const bytes = await stored(key);
    expect(bytes?.equals(Buffer.from(text, 'utf8'))).toBe(true);
    // The ETag is only visible to the page because the rule exposes it; it is the stored object's.
    const etag = `"${(await import('node:crypto')).createHash('md5').update(bytes!).digest('hex')}"`;
    expect(result.putEtag).toBe(etag);
    expect(result.getEtag).toBe(etag);

    // The browser preflighted the PUT and s3gate answered it; the provider never saw an OPTIONS.
    const lines = gatewayLines().slice(before);
    expect(lines.filter((l) => l.method === 'OPTIONS')).toEqual([expect.objectContaining({ op: 'PreflightRequest', bucket: 'uploads', status: 200 })]);
    expect(lines.filter((l) => l.method !== 'OPTIONS').map((l) => [l.op, l.status, l.auth])).toEqual([
      ['PutObject', 200, 'v4-query'],
      ['GetObject', 200, 'v4-query'],
    ]);
    expect(up.requests.some((r) => r.method === 'OPTIONS')).toBe(false);
    const upstreamPut = up.requests.find((r) => r.operation === 'PutObject' && r.key === key);
    expect(upstreamPut?.status).toBe(200);
    expect(upstreamPut?.headers['content-type']).toBe('text/plain');
  }, BROWSER_TIMEOUT * 2);

  it('an origin not in the rule: the browser blocks the PUT at the preflight, nothing is stored', async () => {
    const key = 'from-browser/denied.txt';
    const before = gatewayLines().length;
    const upBefore = up.requests.length;
    const { page, result, consoleErrors } = await runPage(otherPort, await presigned(key), 'must not arrive');
    await page.screenshot({ path: SCREENSHOT_DENIED, fullPage: true });
    await page.close();

    expect(result.origin).toBe(`http://127.0.0.1:${otherPort}`);
    expect(result.error).toMatch(/^TypeError: Failed to fetch/);
    expect(result.putStatus).toBeUndefined();
    expect(consoleErrors.join('\n')).toContain('blocked by CORS policy');

    // s3gate refused the preflight, so the browser never sent the PUT.
    const lines = gatewayLines().slice(before);
    expect(lines.map((l) => [l.method, l.status])).toEqual([['OPTIONS', 403]]);
    expect(up.requests.slice(upBefore)).toEqual([]);
    expect(await stored(key)).toBeUndefined();
  }, BROWSER_TIMEOUT * 2);
});

describe("a bucket whose CORS is the provider's (RGW 16, rules set with PutBucketCors through s3gate)", () => {
  // s3gate answered such a preflight 403 itself, so the browser never sent the PUT.
  it('allowed origin: the preflight goes to RGW and its rules allow it; PUT 200, ETag readable, text read back', async () => {
    const key = 'from-browser/rgw.txt';
    const text = `to RGW through s3gate ✓ ${Date.now()}`;
    const before = gatewayLines().length;
    const { page, result, consoleErrors } = await runPage(allowedPort, await presigned(key, rgwBucket), text);
    await page.close();
    expect(result.error).toBeUndefined();
    expect(consoleErrors).toEqual([]);
    expect([result.putStatus, result.getStatus, result.text]).toEqual([200, 200, text]);
    expect(result.putEtag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(result.getEtag).toBe(result.putEtag);
    const lines = gatewayLines().slice(before);
    expect(lines.filter((l) => l.method === 'OPTIONS')).toEqual([expect.objectContaining({ op: 'PreflightRequest', bucket: rgwBucket, status: 200, upstream: 'rgw' })]);
  }, BROWSER_TIMEOUT * 2);

  // s3gate's own refusal carried no Access-Control-* headers, so the page saw "Failed to fetch".
  it('an expired presigned PUT: the page reads s3gate\'s 403, with the headers RGW\'s rules give, not a network error', async () => {
    const key = 'from-browser/late.txt';
    const s3 = client(`http://127.0.0.1:${gwPort}`, GW_KEY, { forcePathStyle: true });
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: rgwBucket, Key: key }), { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) });
    const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: rgwBucket, Key: key }), { expiresIn: 900 });
    s3.destroy();
    const before = gatewayLines().length;
    const { page, result } = await runPage(allowedPort, { put, get }, 'too late');
    await page.close();
    expect(result.error).toBeUndefined();
    // The PUT refused by s3gate; the GET of the key it never stored answered by RGW.
    expect([result.putStatus, result.getStatus]).toEqual([403, 404]);
    const lines = gatewayLines().slice(before);
    expect(lines.map((l) => [l.method, l.status])).toEqual([['OPTIONS', 200], ['PUT', 403], ['GET', 404]]);
    expect(lines[1]?.error).toBe('AccessDenied');
  }, BROWSER_TIMEOUT * 2);

  it('an origin RGW\'s rules do not name: blocked at the preflight, nothing stored', async () => {
    const key = 'from-browser/rgw-denied.txt';
    const before = gatewayLines().length;
    const { page, result, consoleErrors } = await runPage(otherPort, await presigned(key, rgwBucket), 'must not arrive');
    await page.close();
    expect(result.error).toMatch(/^TypeError: Failed to fetch/);
    expect(consoleErrors.join('\n')).toContain('blocked by CORS policy');
    expect(gatewayLines().slice(before).map((l) => [l.method, l.status])).toEqual([['OPTIONS', 403]]);
    const s3 = client(`http://127.0.0.1:${gwPort}`, GW_KEY, { forcePathStyle: true });
    await expect(s3.send(new GetObjectCommand({ Bucket: rgwBucket, Key: key }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    s3.destroy();
  }, BROWSER_TIMEOUT * 2);
});
