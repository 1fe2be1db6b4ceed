// Issue #22: browser form uploads (S3 POST Object). Real presigners (boto3's
// generate_presigned_post in SigV4 and SigV2, the JS SDK's createPresignedPost) and real
// multipart encoders (Python requests, curl -F, undici's FormData) post through s3gate; the
// strict upstream (which verifies every signature it gets) and the local store receive an
// ordinary re-signed PutObject, and the bytes read back equal. Every refusal is S3's, and the
// upstream holds nothing after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, DOMAIN, GW_KEY, GW_KEY_LIMITED, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { MODERN_PYTHON, runPython } from '../helpers/python.js';
import { assume, s3 as sessionClient, SEAL_K1 } from '../sts/helpers.js';

let up: StrictUpstream;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let base: string;
const files = tmpDir('s3gate-post-files-');

beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  gw = await startTestGateway({
    domains: [DOMAIN],
    keys: [
      { ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'admin'] }] },
      { ...GW_KEY_LIMITED, allow: [{ bucket: 'forms', prefix: 'allowed/', actions: ['read', 'write'] }] },
    ],
    upstreams: {
      strict: { provider: 'minio', endpoint: up.url, region: 'us-east-1', credentials: UP_KEY },
      disk: { provider: 'local', path: tmpDir('s3gate-post-local-') },
    },
    roles: { uploader: { assumableBy: [GW_KEY.accessKeyId], allow: [{ bucket: 'forms', prefix: 'sessions/', actions: ['write'] }] } },
    sts: { sealingKeys: [SEAL_K1] },
    buckets: { forms: { upstream: 'strict', domains: ['forms.example.test'] }, elsewhere: { upstream: 'strict' }, 'disk-forms': { upstream: 'disk' },
      mirrored: { upstream: 'strict', mode: 'mirror', mirror: { upstream: 'disk', bucket: 'mirror-copy' } }, 'mirror-copy': { upstream: 'disk' },
    },
  });
  base = `http://127.0.0.1:${portOf(gw.url)}`;
  for (const b of ['forms', 'elsewhere', 'mirrored']) {
    await up.store.handle({ method: 'PUT', bucket: b, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
  }
  const s3 = client(base, GW_KEY, { forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'disk-forms' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'mirror-copy' }));
  s3.destroy();
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
});

async function stored(bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const r = await up.store.handle({ method: 'GET', bucket, key, query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    const parts: Buffer[] = [];
    for await (const c of r.body as Readable) parts.push(Buffer.from(c as Buffer));
    return Buffer.concat(parts);
  } catch {
    return undefined;
  }
}

/** Through s3gate, with the SDK: what a client reading the object back gets. */
async function readBack(bucket: string, key: string): Promise<{ body: Buffer; contentType?: string; metadata?: Record<string, string> }> {
  const s3 = client(base, GW_KEY, { forcePathStyle: true });
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await r.Body!.transformToByteArray());
  const out = { body, ...(r.ContentType ? { contentType: r.ContentType } : {}), ...(r.Metadata ? { metadata: r.Metadata } : {}) };
  s3.destroy();
  return out;
}

function curl(args: string[]): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-S', '-D', '-', ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl failed: ${stderr || err.message}`));
      const blocks = stdout.split('\r\n\r\n');
      // Skip a "100 Continue" block.
      while (blocks.length > 1 && /^HTTP\/[\d.]+ 100/.test(blocks[0]!)) blocks.shift();
      const head = blocks.shift()!;
      resolve({ status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)![1]), headers: head, body: blocks.join('\r\n\r\n') });
    });
  });
}

function curlForm(url: string, fields: Record<string, string>, file: { path: string; name?: string }): ReturnType<typeof curl> {
  const args: string[] = [];
  // --form-string: no @ or < interpretation of the values (policies and keys are data).
  for (const [k, v] of Object.entries(fields)) args.push('--form-string', `${k}=${v}`);
  args.push('-F', `file=@${file.path}${file.name ? `;filename=${file.name}` : ''}`);
  return curl([...args, url]);
}

async function jsPresign(opts: PresignedPostOptions, creds = GW_KEY): Promise<{ url: string; fields: Record<string, string> }> {
  const s3 = client(base, creds, { forcePathStyle: true });
  const p = await createPresignedPost(s3, opts);
  s3.destroy();
  return p;
}

/** A post with undici's FormData (what a page's fetch(FormData) sends). */
async function postForm(url: string, fields: Record<string, string>, file: Buffer, filename = 'upload.bin'): Promise<{ status: number; body: string; headers: Headers }> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('file', new Blob([new Uint8Array(file)]), filename);
  const r = await fetch(url, { method: 'POST', body: fd, redirect: 'manual' });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
const message = (xml: string) => /<Message>([^<]*)<\/Message>/.exec(xml)?.[1]?.replace(/&quot;/g, '"');
const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

describe('boto3 generate_presigned_post, posted with Python requests', () => {
  it.each([['SigV4', 's3v4'], ['SigV2', 's3']])('%s: 204, the provider gets a signed PutObject, the bytes read back equal', async (_name, sig) => {
    const key = `boto/${sig}/photo ü.bin`;
    const data = randomBytes(3000);
    const path = join(files, `boto-${sig}.bin`);
    writeFileSync(path, data);
    const before = up.requests.length;
    const out = await runPython(`
import requests
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'],
    region_name='us-east-1', config=Config(signature_version='${sig}', s3={'addressing_style': 'path'}))
p = s3.generate_presigned_post('forms', ${JSON.stringify(key)}, Fields={'Content-Type': 'image/png', 'x-amz-meta-owner': 'alice'},
    Conditions=[{'Content-Type': 'image/png'}, {'x-amz-meta-owner': 'alice'}, ['content-length-range', 1, 10000]], ExpiresIn=600)
with open(os.environ['FILE'], 'rb') as f:
    r = requests.post(p['url'], data=p['fields'], files={'file': ('photo.png', f)})
print(json.dumps({'status': r.status_code, 'body': r.text, 'etag': r.headers.get('ETag'), 'location': r.headers.get('Location'), 'url': p['url'], 'fields': sorted(p['fields'])}))
`, { AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey, EP: base, FILE: path }, MODERN_PYTHON) as Record<string, unknown>;
    expect(out.status).toBe(204);
    expect(out.body).toBe('');
    expect(out.etag).toBe(md5(data));
    expect(out.location).toBe(`${base}/forms/boto/${sig}/photo%20%C3%BC.bin`);
    expect((await stored('forms', key))?.equals(data)).toBe(true);
    const back = await readBack('forms', key);
    expect(back.body.equals(data)).toBe(true);
    expect(back.contentType).toBe('image/png');
    expect(back.metadata).toEqual({ owner: 'alice' });
    // What reached the provider: one PutObject, signed with the provider's key, never a POST.
    const sent = up.requests.slice(before).filter((r) => r.method !== 'GET');
    expect(sent.map((r) => [r.method, r.operation, r.status, r.accessKeyId, r.key])).toEqual([['PUT', 'PutObject', 200, UP_KEY.accessKeyId, key]]);
    expect(sent[0]!.headers['x-amz-meta-owner']).toBe('alice');
  });
});

describe('every field sent as a file part (Python requests\' files= for the whole form, as ceph\'s s3-tests post)', () => {
  // requests gives each part of files= a filename: `Content-Disposition: form-data; name="key";
  // filename="key"`. S3 and RGW read such a part before the file as the field it names; s3gate
  // took only the part named file, so the form had no key (400 InvalidArgument).
  it.each([['SigV4', 's3v4'], ['SigV2', 's3']])('%s: 204, the fields are the form\'s, the bytes read back equal', async (_name, sig) => {
    const key = `every-part/${sig}/a.txt`;
    const out = await runPython(`
import requests
from collections import OrderedDict
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url=os.environ['EP'],
    region_name='us-east-1', config=Config(signature_version='${sig}', s3={'addressing_style': 'path'}))
p = s3.generate_presigned_post('forms', ${JSON.stringify(key)}, Fields={'Content-Type': 'text/plain', 'x-amz-meta-owner': 'alice'},
    Conditions=[{'Content-Type': 'text/plain'}, {'x-amz-meta-owner': 'alice'}], ExpiresIn=600)
parts = OrderedDict(list(p['fields'].items()) + [('file', 'every part a file')])
prepared = requests.Request('POST', p['url'], files=parts).prepare()
r = requests.Session().send(prepared)
print(json.dumps({'status': r.status_code, 'body': r.text, 'named': prepared.body.count(b'; filename="'), 'parts': len(parts)}))
`, { AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey, EP: base }, MODERN_PYTHON) as Record<string, unknown>;
    // Every part carried a filename, the fields' included.
    expect(out.named).toBe(out.parts);
    expect([out.status, out.body]).toEqual([204, '']);
    const back = await readBack('forms', key);
    expect([back.body.toString(), back.contentType, back.metadata]).toEqual(['every part a file', 'text/plain', { owner: 'alice' }]);
  });

  it('such a field is bounded as any other: over 20 KiB before the file, MaxPostPreDataLengthExceededError and nothing stored', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'every-part/big.txt', Expires: 600 });
    // Written whole in one write and read back from the socket: s3gate answers before the body's
    // end, and a fetch still sending it may see EPIPE in place of the answer (Node 24's did).
    const boundary = 'everypartboundary42';
    const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\n\r\n${value}\r\n`;
    const body = Object.entries(p.fields).map(([k, v]) => part(k, v)).join('') + part('x-ignore-pad', 'p'.repeat(21 * 1024)) + part('file', 'big') + `--${boundary}--\r\n`;
    const { connect } = await import('node:net');
    const sock = connect(portOf(gw.url), '127.0.0.1');
    const answer = new Promise<string>((resolve) => {
      let text = '';
      sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
      sock.on('close', () => resolve(text));
      sock.on('error', () => {});
    });
    sock.end(`POST /forms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    const text = await answer;
    expect([/^HTTP\/1\.1 (\d+)/.exec(text)?.[1], code(text)]).toEqual(['400', 'MaxPostPreDataLengthExceededError']);
    expect(await stored('forms', 'every-part/big.txt')).toBeUndefined();
  });
});

describe('the JS SDK createPresignedPost, posted with curl -F', () => {
  it('201 with the PostResponse XML, into the strict upstream and the local store', async () => {
    for (const bucket of ['forms', 'disk-forms']) {
      const key = `js/${bucket}/\${filename}`;
      const data = randomBytes(200_000); // past the in-memory size: through the temporary file
      const path = join(files, `js-${bucket}.bin`);
      writeFileSync(path, data);
      const p = await jsPresign({
        Bucket: bucket, Key: key, Expires: 600,
        Fields: { success_action_status: '201', 'x-amz-storage-class': 'STANDARD' },
        Conditions: [['starts-with', '$key', `js/${bucket}/`], ['content-length-range', 1, 1_000_000], { success_action_status: '201' }, { 'x-amz-storage-class': 'STANDARD' }],
      });
      const r = await curlForm(p.url, p.fields, { path, name: 'report 2026.bin' });
      const finalKey = `js/${bucket}/report 2026.bin`;
      expect(r.status, r.body).toBe(201);
      expect(r.body).toContain(`<Bucket>${bucket}</Bucket><Key>${finalKey}</Key><ETag>${md5(data).replace(/"/g, '&quot;')}</ETag>`);
      expect(r.body).toContain(`<Location>${base}/${bucket}/js/${bucket}/report%202026.bin</Location>`);
      expect((await readBack(bucket, finalKey)).body.equals(data)).toBe(true);
    }
  });

  it('success_action_redirect: 303 to the page with bucket, key and etag', async () => {
    const data = Buffer.from('redirected upload');
    const path = join(files, 'redirect.txt');
    writeFileSync(path, data);
    const p = await jsPresign({
      Bucket: 'forms', Key: 'redirect/done.txt', Expires: 600,
      Fields: { success_action_redirect: 'https://app.example/uploaded?from=form' },
      Conditions: [{ success_action_redirect: 'https://app.example/uploaded?from=form' }],
    });
    const r = await curlForm(p.url, p.fields, { path });
    expect(r.status).toBe(303);
    const location = /\r\nlocation: ([^\r\n]*)/i.exec(r.headers)![1];
    expect(location).toBe(`https://app.example/uploaded?from=form&bucket=forms&key=redirect%2Fdone.txt&etag=${encodeURIComponent(md5(data))}`);
    expect((await stored('forms', 'redirect/done.txt'))?.equals(data)).toBe(true);
  });

  it('Content-MD5 and x-amz-checksum-* fields are verified against the file, and the checksum travels to the provider', async () => {
    const data = Buffer.from('checked bytes');
    const md5b64 = createHash('md5').update(data).digest('base64');
    const sha = createHash('sha256').update(data).digest('base64');
    const p = await jsPresign({
      Bucket: 'forms', Key: 'sums/ok.txt', Expires: 600,
      Fields: { 'Content-MD5': md5b64, 'x-amz-checksum-sha256': sha }, Conditions: [{ 'Content-MD5': md5b64 }, { 'x-amz-checksum-sha256': sha }],
    });
    const before = up.requests.length;
    const ok = await postForm(p.url, p.fields, data);
    expect(ok.status, ok.body).toBe(204);
    expect((await stored('forms', 'sums/ok.txt'))?.equals(data)).toBe(true);
    const put = up.requests.slice(before).find((r) => r.method === 'PUT')!;
    expect([put.headers['content-md5'], put.headers['x-amz-checksum-sha256']]).toEqual([md5b64, sha]);
    const q = await jsPresign({ Bucket: 'forms', Key: 'sums/bad.txt', Expires: 600, Fields: { 'x-amz-checksum-sha256': sha }, Conditions: [{ 'x-amz-checksum-sha256': sha }] });
    const after = up.requests.length;
    const bad = await postForm(q.url, q.fields, Buffer.from('other bytes!!'));
    expect([bad.status, code(bad.body)]).toEqual([400, 'BadDigest']);
    expect(up.requests.slice(after).filter((r) => r.method === 'PUT')).toEqual([]);
    expect(await stored('forms', 'sums/bad.txt')).toBeUndefined();
  });
});

describe('on every way of addressing the bucket, with the object fields reaching the provider', () => {
  it('virtual-host (boto3, addressing_style virtual): 201, the Location names the bucket\'s host', async () => {
    const port = portOf(gw.url);
    const out = await runPython(`
import requests
s3 = boto3.client('s3', aws_access_key_id=os.environ['AK'], aws_secret_access_key=os.environ['SK'], endpoint_url='http://${DOMAIN}:${port}',
    region_name='us-east-1', config=Config(s3={'addressing_style': 'virtual'}))
p = s3.generate_presigned_post('forms', 'vhost/a.txt', Fields={'success_action_status': '201'}, Conditions=[{'success_action_status': '201'}])
r = requests.post(p['url'], data=p['fields'], files={'file': ('a.txt', b'virtual host')})
print(json.dumps({'status': r.status_code, 'body': r.text, 'url': p['url']}))
`, { AK: GW_KEY.accessKeyId, SK: GW_KEY.secretAccessKey }, MODERN_PYTHON) as { status: number; body: string; url: string };
    expect(out.url).toBe(`http://forms.${DOMAIN}:${port}/`);
    expect(out.status, out.body).toBe(201);
    expect(out.body).toContain(`<Location>http://forms.${DOMAIN}:${port}/vhost/a.txt</Location>`);
    expect((await stored('forms', 'vhost/a.txt'))?.toString()).toBe('virtual host');
  });

  it('a custom domain bound to the bucket (curl -F): 204', async () => {
    const port = portOf(gw.url);
    const p = await jsPresign({ Bucket: 'forms', Key: 'custom/b.txt', Expires: 600 });
    const path = join(files, 'custom.txt');
    writeFileSync(path, 'custom domain');
    const r = await curl([
      '--connect-to', `forms.example.test:${port}:127.0.0.1:${port}`,
      ...Object.entries(p.fields).flatMap(([k, v]) => ['--form-string', `${k}=${v}`]), '-F', `file=@${path}`, `http://forms.example.test:${port}/`,
    ]);
    expect(r.status, r.body).toBe(204);
    expect(r.headers).toMatch(new RegExp(`\\r\\nlocation: http://forms\\.example\\.test:${port}/custom/b\\.txt\\r\\n`, 'i'));
    expect((await stored('forms', 'custom/b.txt'))?.toString()).toBe('custom domain');
  });

  it('a mirrored bucket: the spooled file is written to both providers', async () => {
    const data = randomBytes(300_000);
    const p = await jsPresign({ Bucket: 'mirrored', Key: 'both/x.bin', Expires: 600 });
    const r = await postForm(p.url, p.fields, data);
    expect(r.status, r.body).toBe(204);
    expect((await stored('mirrored', 'both/x.bin'))?.equals(data)).toBe(true);
    expect((await readBack('mirror-copy', 'both/x.bin')).body.equals(data)).toBe(true);
  });

  it('acl, tagging, storage class, metadata and Content-* fields become the PutObject\'s headers', async () => {
    const tagging = '<Tagging><TagSet><Tag><Key>project</Key><Value>blue sky</Value></Tag></TagSet></Tagging>';
    const fields = { acl: 'public-read', tagging, 'x-amz-storage-class': 'STANDARD', 'x-amz-meta-owner': 'alice', 'Content-Type': 'text/csv', 'Content-Disposition': 'attachment; filename="r.csv"', 'Cache-Control': 'no-cache' };
    const p = await jsPresign({ Bucket: 'forms', Key: 'headers/r.csv', Expires: 600, Fields: fields, Conditions: Object.entries(fields).map(([k, v]) => ({ [k]: v })) });
    const before = up.requests.length;
    expect((await postForm(p.url, p.fields, Buffer.from('a,b\n1,2\n'))).status).toBe(204);
    const put = up.requests.slice(before).find((x) => x.method === 'PUT')!;
    expect([put.headers['x-amz-acl'], put.headers['x-amz-tagging'], put.headers['x-amz-storage-class'], put.headers['x-amz-meta-owner'], put.headers['content-type'], put.headers['content-disposition'], put.headers['cache-control']])
      .toEqual(['public-read', 'project=blue%20sky', 'STANDARD', 'alice', 'text/csv', 'attachment; filename="r.csv"', 'no-cache']);
  });
});

describe('a form signed with temporary credentials (STS session)', () => {
  it('uploads within the role\'s grants; outside them, with a tampered token, or a token lent to another key, refused', async () => {
    const creds = await assume(base, GW_KEY, { RoleSessionName: 'web-app' });
    const s3 = sessionClient(base, creds);
    const p = await createPresignedPost(s3, { Bucket: 'forms', Key: 'sessions/a.txt', Expires: 600 });
    const outside = await createPresignedPost(s3, { Bucket: 'forms', Key: 'private/a.txt', Expires: 600 });
    s3.destroy();
    expect(p.fields['X-Amz-Security-Token']).toBe(creds.sessionToken);
    const before = up.requests.length;
    expect((await postForm(p.url, p.fields, Buffer.from('from a session'))).status).toBe(204);
    expect((await stored('forms', 'sessions/a.txt'))?.toString()).toBe('from a session');
    // The token never travels to the provider.
    expect(up.requests.slice(before).map((r) => r.headers['x-amz-security-token'])).toEqual([undefined]);
    const denied = await postForm(outside.url, outside.fields, Buffer.from('no'));
    expect([denied.status, code(denied.body)]).toEqual([403, 'AccessDenied']);
    const refusals = async (reason: string) => Number(new RegExp(`s3gate_sts_tokens_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(await gw.metrics.registry.metrics())?.[1] ?? 0);
    const forged = await refusals('forged');
    const bad = await postForm(p.url, { ...p.fields, 'X-Amz-Security-Token': creds.sessionToken.slice(0, -4) + 'AAAA' }, Buffer.from('no'));
    expect([bad.status, code(bad.body)]).toEqual([400, 'InvalidToken']);
    // Counted as a request's refused token is.
    expect(await refusals('forged')).toBe(forged + 1);
    const lent = await jsPresign({ Bucket: 'forms', Key: 'sessions/lent.txt', Expires: 600, Fields: { 'x-amz-security-token': creds.sessionToken }, Conditions: [{ 'x-amz-security-token': creds.sessionToken }] });
    const l = await postForm(lent.url, lent.fields, Buffer.from('no'));
    expect([l.status, code(l.body)]).toEqual([400, 'InvalidToken']);
    expect(await stored('forms', 'private/a.txt')).toBeUndefined();
    expect(await stored('forms', 'sessions/lent.txt')).toBeUndefined();
  });
});

describe('refusals: S3 error, nothing stored', () => {
  const data = Buffer.from('0123456789abcdef');

  async function refused(bucket: string, key: string, post: () => Promise<{ status: number; body: string }>): Promise<{ status: number; code?: string; message?: string }> {
    const before = up.requests.length;
    const r = await post();
    // Nothing reached the provider for this key, and it holds nothing there.
    expect(up.requests.slice(before).filter((x) => x.method === 'PUT' || x.method === 'POST')).toEqual([]);
    expect(await stored(bucket, key)).toBeUndefined();
    return { status: r.status, ...(code(r.body) ? { code: code(r.body)! } : {}), ...(message(r.body) ? { message: message(r.body)! } : {}) };
  }

  it('wrong prefix', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'allowed/x', Expires: 600, Conditions: [['starts-with', '$key', 'allowed/']] });
    p.fields.key = 'elsewhere/x';
    // createPresignedPost also pins the key with an eq condition; a policy with only the prefix:
    const q = await jsPresign({ Bucket: 'forms', Key: 'allowed/${filename}', Expires: 600 });
    q.fields.key = 'other/x';
    expect(await refused('forms', 'other/x', () => postForm(q.url, q.fields, data))).toEqual({
      status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "allowed/"]',
    });
    expect((await refused('forms', 'elsewhere/x', () => postForm(p.url, p.fields, data))).message).toMatch(/^Invalid according to Policy: Policy Condition failed: \["(eq|starts-with)", "\$key", "allowed\/x?"\]$/);
  });

  it('an extra field the policy does not cover', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'extra/x', Expires: 600 });
    expect(await refused('forms', 'extra/x', () => postForm(p.url, { ...p.fields, 'x-amz-meta-sneaky': 'yes' }, data))).toEqual({
      status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Extra input fields: x-amz-meta-sneaky',
    });
    // x-ignore-* fields are S3's exemption.
    expect((await postForm(p.url, { ...p.fields, 'x-ignore-page': 'state' }, data)).status).toBe(204);
  });

  it('an expired policy', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'expired/x', Expires: -60 });
    expect(await refused('forms', 'expired/x', () => postForm(p.url, p.fields, data))).toEqual({
      status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy expired.',
    });
  });

  it('a file over and under the content-length-range', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'sized/x', Expires: 600, Conditions: [['content-length-range', 10, 12]] });
    expect(await refused('forms', 'sized/x', () => postForm(p.url, p.fields, data))).toEqual({
      status: 400, code: 'EntityTooLarge', message: 'Your proposed upload exceeds the maximum allowed size',
    });
    expect(await refused('forms', 'sized/x', () => postForm(p.url, p.fields, Buffer.from('tiny')))).toEqual({
      status: 400, code: 'EntityTooSmall', message: 'Your proposed upload is smaller than the minimum allowed size',
    });
    // A large file far over the range is stopped while it streams (curl reads the early answer).
    const big = join(files, 'big.bin');
    writeFileSync(big, randomBytes(4 * 1024 * 1024));
    const r = await refused('forms', 'sized/x', () => curlForm(p.url, p.fields, { path: big }));
    expect([r.status, r.code]).toEqual([400, 'EntityTooLarge']);
  });

  it('the wrong bucket', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'bucket/x', Expires: 600 });
    expect(await refused('elsewhere', 'bucket/x', () => postForm(`${base}/elsewhere`, p.fields, data))).toEqual({
      status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "forms"]',
    });
  });

  it('a tampered policy and a wrong signature', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'tamper/x', Expires: 600, Conditions: [['content-length-range', 0, 4]] });
    const doc = JSON.parse(Buffer.from(p.fields.Policy!, 'base64').toString()) as { conditions: unknown[] };
    doc.conditions = doc.conditions.filter((c) => !(Array.isArray(c) && c[0] === 'content-length-range'));
    const tampered = { ...p.fields, Policy: Buffer.from(JSON.stringify(doc)).toString('base64') };
    expect(await refused('forms', 'tamper/x', () => postForm(p.url, tampered, data))).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    const wrong = { ...p.fields, 'X-Amz-Signature': '0'.repeat(64) };
    expect(await refused('forms', 'tamper/x', () => postForm(p.url, wrong, Buffer.from('ok')))).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
  });

  it('a key without a grant on the resulting key', async () => {
    const ok = await jsPresign({ Bucket: 'forms', Key: 'allowed/mine.txt', Expires: 600 }, GW_KEY_LIMITED);
    expect((await postForm(ok.url, ok.fields, data)).status).toBe(204);
    const p = await jsPresign({ Bucket: 'forms', Key: 'private/theirs.txt', Expires: 600 }, GW_KEY_LIMITED);
    expect(await refused('forms', 'private/theirs.txt', () => postForm(p.url, p.fields, data))).toEqual({ status: 403, code: 'AccessDenied', message: 'Access Denied' });
    // ${filename} cannot walk out of a granted prefix either: the grant is checked on the final key.
    const f = await jsPresign({ Bucket: 'forms', Key: 'allowed/${filename}', Expires: 600 }, GW_KEY_LIMITED);
    f.fields.key = '${filename}';
    expect((await refused('forms', 'private/x', () => postForm(f.url, f.fields, data, 'private/x'))).code).toBe('AccessDenied');
  });

  it('a form that is not multipart, has no file, or no key', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'shape/x', Expires: 600 });
    const notForm = await fetch(`${base}/forms`, { method: 'POST', body: new URLSearchParams(p.fields) });
    expect([notForm.status, code(await notForm.text())]).toEqual([412, 'PreconditionFailed']);
    const fd = new FormData();
    for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
    const noFile = await fetch(`${base}/forms`, { method: 'POST', body: fd });
    const noFileBody = await noFile.text();
    expect([noFile.status, code(noFileBody), message(noFileBody)]).toEqual([400, 'InvalidArgument', 'POST requires exactly one file upload per request.']);
    const { key: _k, ...withoutKey } = p.fields;
    const noKey = await postForm(p.url, withoutKey, data);
    expect([noKey.status, code(noKey.body)]).toEqual([400, 'InvalidArgument']);
    expect(await stored('forms', 'shape/x')).toBeUndefined();
  });

  it('a repeated field is refused; fields after the file are ignored, as S3 ignores them', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'order/first.txt', Expires: 600 });
    const fd = new FormData();
    for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
    fd.append('key', 'order/second.txt');
    fd.append('file', new Blob(['twice']), 'f.txt');
    const twice = await fetch(p.url, { method: 'POST', body: fd });
    expect([twice.status, code(await twice.text())]).toEqual([400, 'InvalidArgument']);
    const after = new FormData();
    for (const [k, v] of Object.entries(p.fields)) after.append(k, v);
    after.append('file', new Blob(['first']), 'f.txt');
    after.append('key', 'order/second.txt');
    after.append('x-amz-meta-late', 'ignored');
    const r = await fetch(p.url, { method: 'POST', body: after });
    expect(r.status).toBe(204);
    expect((await stored('forms', 'order/first.txt'))?.toString()).toBe('first');
    expect(await stored('forms', 'order/second.txt')).toBeUndefined();
    expect(up.requests.find((x) => x.method === 'PUT' && x.key === 'order/first.txt')?.headers['x-amz-meta-late']).toBeUndefined();
  });

  it('a signed x-amz-copy-source field, or the POST\'s own headers, never make the upload a copy or add to it', async () => {
    await up.store.handle({ method: 'PUT', bucket: 'elsewhere', key: 'secret.txt', query: new URLSearchParams(), headers: {}, body: Readable.from([Buffer.from('secret')]) });
    const p = await jsPresign({ Bucket: 'forms', Key: 'copy/x.txt', Expires: 600, Fields: { 'x-amz-copy-source': '/elsewhere/secret.txt' }, Conditions: [{ 'x-amz-copy-source': '/elsewhere/secret.txt' }] });
    const before = up.requests.length;
    expect((await postForm(p.url, p.fields, Buffer.from('mine'))).status).toBe(204);
    const put = up.requests.slice(before).find((x) => x.method === 'PUT')!;
    expect([put.operation, put.headers['x-amz-copy-source']]).toEqual(['PutObject', undefined]);
    expect((await stored('forms', 'copy/x.txt'))?.toString()).toBe('mine');
    // Nor does the POST's own x-amz-copy-source header (the form's signer may read the source:
    // the upload must still be the file, not a copy the policy never named).
    const q = await jsPresign({ Bucket: 'forms', Key: 'copy/header.txt', Expires: 600 });
    const fd = new FormData();
    for (const [k, v] of Object.entries(q.fields)) fd.append(k, v);
    fd.append('file', new Blob(['the file']), 'f.txt');
    const after = up.requests.length;
    const r = await fetch(q.url, { method: 'POST', body: fd, headers: { 'x-amz-copy-source': '/elsewhere/secret.txt', 'x-amz-acl': 'public-read-write', 'x-amz-meta-who': 'mallory' } });
    expect(r.status, await r.text()).toBe(204);
    const put2 = up.requests.slice(after).find((x) => x.method === 'PUT')!;
    expect([put2.operation, put2.headers['x-amz-copy-source'], put2.headers['x-amz-acl'], put2.headers['x-amz-meta-who'], put2.headers['content-type']])
      .toEqual(['PutObject', undefined, undefined, undefined, 'binary/octet-stream']);
    expect((await stored('forms', 'copy/header.txt'))?.toString()).toBe('the file');
  });

  it('a client that goes away mid-file: nothing stored, and the exchange ends (its access line is written)', async () => {
    const p = await jsPresign({ Bucket: 'forms', Key: 'aborted/x', Expires: 600 });
    const boundary = 'abortboundary1234';
    const head = Object.entries(p.fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n`;
    const total = Buffer.byteLength(head) + 4 * 1024 * 1024 + `\r\n--${boundary}--\r\n`.length;
    const lines = () => gw.sink.lines.filter((l) => l.msg === 'request' && l.op === 'PostObject').length;
    const before = lines();
    const upBefore = up.requests.length;
    const { connect } = await import('node:net');
    const sock = connect(portOf(gw.url), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`POST /forms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${total}\r\n\r\n${head}`);
    sock.write(randomBytes(512 * 1024));
    // The gateway has the fields and the start of the file: the form is being spooled.
    await new Promise((r) => setTimeout(r, 200));
    sock.destroy();
    while (lines() === before) await new Promise((r) => setTimeout(r, 20));
    expect(up.requests.slice(upBefore).filter((x) => x.method === 'PUT')).toEqual([]);
    expect(await stored('forms', 'aborted/x')).toBeUndefined();
  });

  it('HEAD of what was refused: nothing there through s3gate either', async () => {
    const s3 = client(base, GW_KEY, { forcePathStyle: true });
    await expect(s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'tamper/x' }))).rejects.toMatchObject({ name: 'NotFound' });
    s3.destroy();
  });
});
