// `s3gate presign`: URLs made by the CLI from a config file work against a running gateway that
// loads the same keys, fetched with plain HTTP and no SDK. The signing key comes from `keys new`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { parse } from 'yaml';
import { gatewayOrigin } from '../../src/commands/presign.js';
import { buildConfig, protectReferences } from '../../src/config/load.js';
import { client, startTestGateway, tmpDir, GW_KEY_LIMITED } from '../helpers/gateway.js';
import { cli, type CliResult } from './run-cli.js';
import { selfSignedCert } from '../helpers/tls.js';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let port: number;
let configFile: string;
let id: string;
let env: Record<string, string>;

function presignRaw(args: string[]): Promise<CliResult> {
  return cli(['presign', '--config', configFile, ...args], env);
}

async function presign(args: string[]): Promise<string> {
  const r = await presignRaw(['--key', id, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

async function fetchText(url: string, method = 'GET', body?: string): Promise<{ status: number; text: string }> {
  const r = await request(url, { method: method as 'GET', ...(body !== undefined ? { body } : {}) });
  return { status: r.statusCode, text: await r.body.text() };
}

beforeAll(async () => {
  const made = JSON.parse((await cli(['keys', 'new', '--json'])).stdout) as { accessKeyId: string; secretAccessKey: string; env: string };
  id = made.accessKeyId;
  env = { [made.env]: made.secretAccessKey };
  const root = tmpDir('s3gate-presign-');
  const body = `
keys:
  - accessKeyId: ${id}
    secretAccessKey: \${${made.env}}
    allow: [{ bucket: "*", actions: [read, write, list, delete, admin] }]
  - accessKeyId: ${GW_KEY_LIMITED.accessKeyId}
    secretAccessKey: ${GW_KEY_LIMITED.secretAccessKey}
    allow: [{ bucket: files, prefix: public/, actions: [read] }]
upstreams: { disk: { provider: local, path: ${root} } }
buckets: { "*": { upstream: disk } }
`;
  gw = await startTestGateway(parse(protectReferences(body)) as Record<string, unknown>, { env });
  port = Number(new URL(gw.url).port);
  // The gateway's port is only known once it is bound; the CLI's copy of the config names it.
  configFile = join(tmpDir('s3gate-presign-cfg-'), 'proxy.yaml');
  writeFileSync(configFile, `listen: [{ address: 127.0.0.1:${port} }]\n${body}`);
  await client(gw.url, { accessKeyId: id, secretAccessKey: made.secretAccessKey }, { forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'files' }));
});

afterAll(async () => {
  await gw?.close();
});

describe('s3gate presign (SigV4)', () => {
  it('a presigned PUT then GET work against the running gateway, on the listener from the config', async () => {
    const put = await presign(['--method', 'PUT', 's3://files/docs/hello world.txt']);
    expect(put.startsWith(`http://127.0.0.1:${port}/files/docs/hello%20world.txt?`)).toBe(true);
    expect(new URL(put).searchParams.get('X-Amz-Credential')).toMatch(new RegExp(`^${id}/\\d{8}/us-east-1/s3/aws4_request$`));
    expect(await fetchText(put, 'PUT', 'presigned by the CLI')).toEqual({ status: 200, text: '' });

    const get = await presign(['s3://files/docs/hello world.txt']);
    expect(await fetchText(get)).toEqual({ status: 200, text: 'presigned by the CLI' });
  });

  it('accepts the method as a bare word, and --host for the name clients use', async () => {
    const url = await presign(['--host', `127.0.0.1:${port}`, '--expires', '60', 'GET', 's3://files/docs/hello world.txt']);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('60');
    expect((await fetchText(url)).text).toBe('presigned by the CLI');
  });

  it('the gateway refuses the URL once it expired, or when its path is changed', async () => {
    const url = await presign(['--expires', '1', 's3://files/docs/hello world.txt']);
    const other = (await presign(['s3://files/docs/hello world.txt'])).replace('hello%20world', 'other');
    await sleep(2100);
    const expired = await fetchText(url);
    expect(expired.status).toBe(403);
    expect(expired.text).toContain('Request has expired');
    const changed = await fetchText(other);
    expect(changed.status).toBe(403);
    expect(changed.text).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe('s3gate presign --v2', () => {
  it('SigV2 query auth: PUT then GET', async () => {
    const put = await presign(['--v2', '--method', 'PUT', 's3://files/v2/a+b.txt']);
    expect([...new URL(put).searchParams.keys()]).toEqual(['AWSAccessKeyId', 'Expires', 'Signature']);
    expect(await fetchText(put, 'PUT', 'v2 body')).toEqual({ status: 200, text: '' });
    expect(await fetchText(await presign(['--v2', 's3://files/v2/a+b.txt']))).toEqual({ status: 200, text: 'v2 body' });
  });

  it('an expired SigV2 URL is refused', async () => {
    const url = await presign(['--v2', '--expires', '1', 's3://files/v2/a+b.txt']);
    await sleep(2100);
    const r = await fetchText(url);
    expect(r.status).toBe(403);
    expect(r.text).toContain('Request has expired');
  });
});

describe('s3gate presign: mistakes are named', () => {
  it('an unknown key lists the known ones', async () => {
    const r = await presignRaw(['--key', 'NOPE', 's3://files/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`s3gate presign: --key NOPE: no such key in keys; known: ${id}, ${GW_KEY_LIMITED.accessKeyId}\n`);
  });

  it('a key without the grant gets no URL; within its grant it does', async () => {
    const write = await presignRaw(['--key', GW_KEY_LIMITED.accessKeyId, '--method', 'PUT', 's3://files/public/x']);
    expect(write.code).toBe(2);
    expect(write.stderr).toContain(`--key ${GW_KEY_LIMITED.accessKeyId} may not write s3://files/public/x (PUT); its grants: files/public/* [read]`);
    const read = await presignRaw(['--key', GW_KEY_LIMITED.accessKeyId, 's3://files/public/x']);
    expect(read.code).toBe(0);
  });

  it('expiry beyond 7 days, a bad URL and a bad config are refused', async () => {
    const long = await presignRaw(['--key', id, '--expires', '604801', 's3://files/x']);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('--expires 604801: must be whole seconds from 1 to 604800');
    const bad = await presignRaw(['--key', id, 'files/x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('files/x: expected s3://bucket/key');
    const missing = await cli(['presign', '--config', configFile, '--key', id, 's3://files/x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`keys[0].secretAccessKey: environment variable ${Object.keys(env)[0]} is not set`);
  });
});

describe('the URL\'s origin', () => {
  const cfg = (listen: unknown, domains: string[]) => {
    const dir = tmpDir('s3gate-origin-');
    // The config loads a listener's certificate and key: a real pair.
    const pair = selfSignedCert(['s3.example.com']);
    copyFileSync(pair.cert, join(dir, 'c.pem'));
    copyFileSync(pair.key, join(dir, 'k.pem'));
    return buildConfig({ listen, domains, upstreams: { d: { provider: 'local', path: dir } }, buckets: { '*': { upstream: 'd' } } }, dir, { env: {} });
  };
  it('is the first domain, the first listener\'s scheme, and its port unless it is the default', () => {
    expect(gatewayOrigin(cfg([{ address: '0.0.0.0:8080' }], ['s3.example.com', 'other.example.com']))).toBe('http://s3.example.com:8080');
    expect(gatewayOrigin(cfg([{ address: '0.0.0.0:443', tls: { cert: 'c.pem', key: 'k.pem' } }, { address: '0.0.0.0:80' }], ['s3.example.com']))).toBe('https://s3.example.com');
    expect(gatewayOrigin(cfg([{ address: '0.0.0.0:80' }], ['s3.example.com']))).toBe('http://s3.example.com');
  });
  it('--host replaces the name, and a full origin also the scheme (TLS at a load balancer)', () => {
    const c = cfg([{ address: '0.0.0.0:8080' }], ['s3.example.com']);
    expect(gatewayOrigin(c, 'files.example.com')).toBe('http://files.example.com:8080');
    expect(gatewayOrigin(c, 'files.example.com:9000')).toBe('http://files.example.com:9000');
    expect(gatewayOrigin(c, 'https://s3.example.com')).toBe('https://s3.example.com');
  });
  it('without domains, a wildcard listener needs --host', () => {
    expect(() => gatewayOrigin(cfg([{ address: '0.0.0.0:8080' }], []))).toThrow('pass --host');
    expect(gatewayOrigin(cfg([{ address: '127.0.0.1:8080' }], []))).toBe('http://127.0.0.1:8080');
  });
});
