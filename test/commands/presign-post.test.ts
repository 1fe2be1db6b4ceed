// `s3gate presign --post`: form fields made by the CLI from a config file upload through a
// running gateway that loads the same keys (curl -F, no SDK), into the local store; the HTML page
// it prints holds the same form; a form the key's grants would refuse is not made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { parse } from 'yaml';
import { protectReferences } from '../../src/config/load.js';
import { client, GW_KEY, GW_KEY_LIMITED, startTestGateway, tmpDir } from '../helpers/gateway.js';
import { cli } from './run-cli.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let configFile: string;
const files = tmpDir('s3gate-presign-post-files-');

beforeAll(async () => {
  const root = tmpDir('s3gate-presign-post-');
  const body = `
keys:
  - accessKeyId: ${GW_KEY.accessKeyId}
    secretAccessKey: ${GW_KEY.secretAccessKey}
    allow: [{ bucket: "*", actions: [read, write, list, admin] }]
  - accessKeyId: ${GW_KEY_LIMITED.accessKeyId}
    secretAccessKey: ${GW_KEY_LIMITED.secretAccessKey}
    allow: [{ bucket: files, prefix: public/, actions: [read] }]
upstreams: { disk: { provider: local, path: ${root} } }
buckets: { "*": { upstream: disk } }
`;
  gw = await startTestGateway(parse(protectReferences(body)) as Record<string, unknown>);
  configFile = join(tmpDir('s3gate-presign-post-cfg-'), 'proxy.yaml');
  writeFileSync(configFile, `listen: [{ address: 127.0.0.1:${new URL(gw.url).port} }]\n${body}`);
  const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'files' }));
  s3.destroy();
});

afterAll(async () => {
  await gw?.close();
});

function curlForm(url: string, fields: Record<string, string>, path: string): Promise<{ status: number; body: string }> {
  const args = ['-s', '-S', '-o', '-', '-w', '\n%{http_code}'];
  for (const [k, v] of Object.entries(fields)) args.push('--form-string', `${k}=${v}`);
  args.push('-F', `file=@${path}`, url);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl failed: ${stderr || err.message}`));
      const at = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
    });
  });
}

async function readBack(key: string): Promise<Buffer> {
  const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
  const r = await s3.send(new GetObjectCommand({ Bucket: 'files', Key: key }));
  const b = Buffer.from(await r.Body!.transformToByteArray());
  s3.destroy();
  return b;
}

async function presignPost(args: string[]): Promise<{ url: string; fields: Record<string, string>; expires: string }> {
  const r = await cli(['presign', '--post', '--config', configFile, '--key', GW_KEY.accessKeyId, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { url: string; fields: Record<string, string>; expires: string };
}

describe('s3gate presign --post', () => {
  it.each([[[] as string[], 'x-amz-signature'], [['--v2'], 'signature']])('%j: the printed fields upload a file with curl -F', async (extra, sigField) => {
    const key = `exact/${extra.length ? 'v2' : 'v4'}.bin`;
    const form = await presignPost([...extra, '--max-size', '1M', '--content-type', 'application/pdf', `s3://files/${key}`]);
    expect(form.url).toBe(`${gw.url}/files`);
    expect(Object.keys(form.fields)).toContain(sigField);
    const data = randomBytes(100_000);
    const path = join(files, 'exact.bin');
    writeFileSync(path, data);
    const r = await curlForm(form.url, form.fields, path);
    expect(r.status, r.body).toBe(204);
    expect((await readBack(key)).equals(data)).toBe(true);
    // The size range is in the signed policy: a larger file is refused.
    writeFileSync(path, randomBytes(1024 * 1024 + 1));
    const big = await curlForm(form.url, form.fields, path);
    expect([big.status, /<Code>([^<]*)/.exec(big.body)?.[1]]).toEqual([400, 'EntityTooLarge']);
  });

  it('a prefix: the file name completes the key; 201 answers with the PostResponse', async () => {
    const form = await presignPost(['--status', '201', 's3://files/inbox/']);
    expect(form.fields.key).toBe('inbox/${filename}');
    const path = join(files, 'from-cli.txt');
    writeFileSync(path, 'hello from the CLI form');
    const r = await curlForm(form.url, form.fields, path);
    expect(r.status, r.body).toBe(201);
    expect(r.body).toContain('<Key>inbox/from-cli.txt</Key>');
    expect((await readBack('inbox/from-cli.txt')).toString()).toBe('hello from the CLI form');
    // Another key than the prefix allows is refused by the gateway.
    const wrong = await curlForm(form.url, { ...form.fields, key: 'outbox/${filename}' }, path);
    expect([wrong.status, /<Code>([^<]*)/.exec(wrong.body)?.[1]]).toEqual([403, 'AccessDenied']);
  });

  it('--html prints a complete form page with the same fields', async () => {
    const r = await cli(['presign', '--post', '--html', '--config', configFile, '--key', GW_KEY.accessKeyId, '--redirect', 'https://app.example/done', 's3://files/pages/']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`<form action="${gw.url}/files" method="post" enctype="multipart/form-data">`);
    expect(r.stdout).toContain('<input type="hidden" name="success_action_redirect" value="https://app.example/done">');
    expect(r.stdout).toMatch(/name="x-amz-signature" value="[0-9a-f]{64}"/);
    expect(r.stdout.indexOf('type="file"')).toBeGreaterThan(r.stdout.lastIndexOf('type="hidden"'));
  });

  it('a key whose grants would refuse the upload gets no form, and the error names its grants', async () => {
    const r = await cli(['presign', '--post', '--config', configFile, '--key', GW_KEY_LIMITED.accessKeyId, 's3://files/public/x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`s3gate presign: --key ${GW_KEY_LIMITED.accessKeyId} may not write s3://files/public/x; its grants: files/public/* [read]\n`);
    expect(r.stderr).not.toContain(GW_KEY_LIMITED.secretAccessKey);
  });

  it.each([
    [['--status', '302'], '--status 302: use 200, 201 or 204'],
    [['--max-size', 'lots'], '--max-size lots: expected a number of bytes, optionally with K, M or G'],
    [['--redirect', 'javascript:alert(1)'], '--redirect javascript:alert(1): an http(s) URL'],
  ])('usage errors: %j', async (args, message) => {
    const r = await cli(['presign', '--post', '--config', configFile, '--key', GW_KEY.accessKeyId, ...args, 's3://files/x']);
    expect([r.code, r.stderr.split('\n')[0]]).toEqual([2, `s3gate presign: ${message}`]);
  });
});
