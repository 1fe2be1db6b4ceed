// Issue #22 in a real browser. A page on another origin holds a real
// <form method="post" enctype="multipart/form-data"> with the fields createPresignedPost made;
// Chromium submits a file through s3gate, follows the 303 to success_action_redirect, and the
// object is in the strict upstream. A second page uploads with fetch(FormData) and reads the
// 201 PostResponse XML, which it may only because the bucket's CORS rule names its origin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { chromium, type BrowserContext } from 'playwright-core';
import { existsSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const BROWSER_TIMEOUT = 120_000;

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let gwBase: string;
let pages: http.Server;
let otherPages: http.Server;
let pageOrigin: string;
let otherOrigin: string;
let context: BrowserContext;
let profile: string;
/** what the app server hands each page: set per test */
let formFor: { url: string; fields: Record<string, string> };

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// What a web app serves: its own page with the presigned fields as hidden inputs.
function formPage(): string {
  const inputs = Object.entries(formFor.fields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>upload</title></head><body>
<form id="f" action="${escapeHtml(formFor.url)}" method="post" enctype="multipart/form-data">
${inputs}
<input type="file" name="file" id="file">
<button type="submit" id="go">Upload</button>
</form></body></html>`;
}

function fetchPage(): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>fetch upload</title></head><body>
<pre id="result"></pre>
<script>
  window.upload = async (spec) => {
    const fd = new FormData();
    for (const [k, v] of Object.entries(spec.fields)) fd.append(k, v);
    fd.append('file', new Blob([spec.text], { type: 'text/plain' }), 'note.txt');
    const out = {};
    try {
      const r = await fetch(spec.url, { method: 'POST', body: fd });
      out.status = r.status;
      out.etag = r.headers.get('etag');
      out.xml = await r.text();
      const doc = new DOMParser().parseFromString(out.xml, 'application/xml');
      out.key = doc.querySelector('Key')?.textContent;
      out.bucket = doc.querySelector('Bucket')?.textContent;
    } catch (e) {
      out.error = e.name + ': ' + e.message;
    }
    document.getElementById('result').textContent = JSON.stringify(out);
    return out;
  };
</script></body></html>`;
}

beforeAll(async () => {
  const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const html = path === '/form' ? formPage() : path === '/fetch' ? fetchPage() : path === '/done' ? '<!doctype html><title>done</title><p>uploaded</p>' : undefined;
    if (html === undefined) return void res.writeHead(path === '/favicon.ico' ? 204 : 404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  };
  pages = http.createServer(serve);
  otherPages = http.createServer(serve);
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => otherPages.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  otherOrigin = `http://127.0.0.1:${(otherPages.address() as AddressInfo).port}`;

  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    keys: [{ ...GW_KEY, allow: [{ bucket: 'uploads', prefix: 'incoming/', actions: ['write'] }] }],
    upstreams: { strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY } },
    buckets: {
      uploads: { upstream: 'strict', cors: [{ allowedOrigins: [pageOrigin], allowedMethods: ['POST'], allowedHeaders: ['*'], exposeHeaders: ['ETag'] }] },
    },
  });
  gwBase = `http://127.0.0.1:${portOf(gw.url)}`;
  await up.store.handle({ method: 'PUT', bucket: 'uploads', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });

  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run test/system-deps.sh (Debian package chromium)`);
  profile = tmpDir('s3gate-chromium-post-');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, timeout: BROWSER_TIMEOUT,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, BROWSER_TIMEOUT * 2);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await gw?.close();
  await up?.close();
  await new Promise((r) => pages?.close(r));
  await new Promise((r) => otherPages?.close(r));
}, BROWSER_TIMEOUT);

async function presign(opts: { key: string; fields?: Record<string, string>; conditions?: unknown[] }): Promise<{ url: string; fields: Record<string, string> }> {
  const s3 = client(gwBase, GW_KEY, { forcePathStyle: true });
  const p = await createPresignedPost(s3, {
    Bucket: 'uploads', Key: opts.key, Expires: 900, ...(opts.fields ? { Fields: opts.fields } : {}),
    Conditions: [['content-length-range', 1, 1024 * 1024], ...((opts.conditions ?? []) as never[])],
  });
  s3.destroy();
  return p;
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

describe('browser form uploads through s3gate (issue #22)', () => {
  it('a real multipart form: Chromium posts the file, follows success_action_redirect, the object is stored', async () => {
    const redirect = `${pageOrigin}/done`;
    formFor = await presign({
      key: 'incoming/${filename}', fields: { success_action_redirect: redirect, 'Content-Type': 'text/plain' },
      conditions: [['starts-with', '$key', 'incoming/'], { success_action_redirect: redirect }, ['starts-with', '$Content-Type', 'text/']],
    });
    const text = `a file picked in Chromium ✓ ${Date.now()}`;
    const file = join(tmpDir('s3gate-post-pick-'), 'picked note.txt');
    writeFileSync(file, text);
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/form`, { timeout: BROWSER_TIMEOUT });
    await page.setInputFiles('#file', file);
    await Promise.all([page.waitForURL(/\/done\?/, { timeout: BROWSER_TIMEOUT }), page.click('#go')]);
    const landed = new URL(page.url());
    await page.close();

    expect(landed.origin + landed.pathname).toBe(redirect);
    expect(landed.searchParams.get('bucket')).toBe('uploads');
    expect(landed.searchParams.get('key')).toBe('incoming/picked note.txt');
    const bytes = await stored('incoming/picked note.txt');
    expect(bytes?.toString('utf8')).toBe(text);
    const { createHash } = await import('node:crypto');
    expect(landed.searchParams.get('etag')).toBe(`"${createHash('md5').update(bytes!).digest('hex')}"`);
    const put = up.requests.find((r) => r.method === 'PUT' && r.key === 'incoming/picked note.txt');
    expect([put?.operation, put?.status, put?.headers['content-type']]).toEqual(['PutObject', 200, 'text/plain']);
  }, BROWSER_TIMEOUT * 2);

  it('fetch(FormData) from another origin reads the 201 PostResponse XML and the exposed ETag (CORS)', async () => {
    const spec = {
      ...(await presign({ key: 'incoming/fetched.txt', fields: { success_action_status: '201' }, conditions: [{ success_action_status: '201' }] })),
      text: 'uploaded with fetch',
    };
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/fetch`, { timeout: BROWSER_TIMEOUT });
    const out = await page.evaluate((s) => (window as unknown as { upload(s: unknown): Promise<Record<string, unknown>> }).upload(s), spec);
    await page.close();
    expect(out.error).toBeUndefined();
    expect(out.status).toBe(201);
    expect([out.bucket, out.key]).toEqual(['uploads', 'incoming/fetched.txt']);
    expect(out.xml).toContain('<PostResponse>');
    expect(out.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await stored('incoming/fetched.txt'))?.toString()).toBe('uploaded with fetch');
  }, BROWSER_TIMEOUT * 2);

  it('a page on an origin the CORS rule does not name cannot read the answer, yet the upload happens: the policy, not CORS, decides', async () => {
    const spec = {
      ...(await presign({ key: 'incoming/other-origin.txt', fields: { success_action_status: '201' }, conditions: [{ success_action_status: '201' }] })),
      text: 'posted from an origin without a rule',
    };
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    await page.goto(`${otherOrigin}/fetch`, { timeout: BROWSER_TIMEOUT });
    const out = await page.evaluate((s) => (window as unknown as { upload(s: unknown): Promise<Record<string, unknown>> }).upload(s), spec);
    await page.close();
    expect(out.error).toMatch(/^TypeError: Failed to fetch/);
    expect(consoleErrors.join('\n')).toContain('blocked by CORS policy');
    // A multipart POST is a simple request: no preflight, so it reached s3gate and was stored.
    expect((await stored('incoming/other-origin.txt'))?.toString()).toBe('posted from an origin without a rule');
  }, BROWSER_TIMEOUT * 2);
});
