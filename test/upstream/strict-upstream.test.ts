import http from 'node:http';
import { Readable } from 'node:stream';
import { createHash, createHmac } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { startStrictUpstream, type StrictUpstream } from './strict-upstream.js';
import { testRequestHandler } from './resolve.js';
import { failure as errorOf } from '../helpers/gateway.js';

const creds = { accessKeyId: 'AKSTRICT', secretAccessKey: 'strict-secret' };
const region = 'eu-central-1';
const B = 'strict';

let up: StrictUpstream;
let s3: S3Client;


function send(opts: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer; hostHeader?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...opts.headers };
    if (opts.hostHeader) headers['host'] = opts.hostHeader;
    const req = http.request({ host: '127.0.0.1', port: up.port, method: opts.method, path: opts.path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function sign(method: string, path: string, host: string, headers: Record<string, string>, secret = creds.secretAccessKey) {
  const signer = new SignatureV4({ credentials: { ...creds, secretAccessKey: secret }, region, service: 's3', sha256: Sha256, uriEscapePath: false });
  const r = await signer.sign({ method, protocol: 'http:', hostname: host.split(':')[0]!, path, query: {}, headers: { host, ...headers } });
  return r.headers as Record<string, string>;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

beforeAll(async () => {
  up = await startStrictUpstream({ ...creds, region, dnsName: 's3.strict.test' });
  s3 = new S3Client({ region, credentials: creds, endpoint: up.url, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  await s3.send(new CreateBucketCommand({ Bucket: B, CreateBucketConfiguration: { LocationConstraint: region } }));
});

afterAll(async () => {
  s3?.destroy();
  await up?.close();
});

describe('strict upstream', () => {
  it('accepts a correctly signed SDK request and records it', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ok', Body: 'fine' }));
    const rec = up.requests.at(-1)!;
    expect(rec).toMatchObject({ method: 'PUT', auth: 'v4-header', operation: 'PutObject', bucket: B, key: 'ok', status: 200, bodyBytes: 4, style: 'path', accessKeyId: creds.accessKeyId });
    expect(rec.signedHeaders).toContain('host');
  });

  it('wrong secret → SignatureDoesNotMatch, nothing stored', async () => {
    const bad = new S3Client({ region, credentials: { ...creds, secretAccessKey: 'wrong' }, endpoint: up.url, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const err = await errorOf(bad.send(new PutObjectCommand({ Bucket: B, Key: 'bad-secret', Body: 'x' })));
    bad.destroy();
    expect(err.name).toBe('SignatureDoesNotMatch');
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'bad-secret' })))).name).toBe('NoSuchKey');
  });

  it('signed for Host files.example.com, sent with Host 127.0.0.1 → SignatureDoesNotMatch', async () => {
    const headers = await sign('PUT', `/${B}/custom`, 'files.example.com', { 'x-amz-content-sha256': sha('x') });
    const res = await send({ method: 'PUT', path: `/${B}/custom`, headers: { ...headers, 'content-length': '1' }, body: 'x', hostHeader: `127.0.0.1:${up.port}` });
    expect(res.status).toBe(403);
    expect(res.body).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('Host that is neither ours nor virtual-host becomes the bucket (RGW behaviour)', async () => {
    const host = 'files.example.com';
    const headers = await sign('GET', '/ok', host, { 'x-amz-content-sha256': sha('') });
    const res = await send({ method: 'GET', path: '/ok', headers, hostHeader: host });
    expect(res.status).toBe(404);
    expect(res.body).toContain('NoSuchBucket');
    expect(up.requests.at(-1)).toMatchObject({ style: 'host-as-bucket', bucket: host });
  });

  it('virtual-host addressing via a *.test resolver', async () => {
    const vh = new S3Client({ region, credentials: creds, endpoint: `http://s3.strict.test:${up.port}`, requestHandler: testRequestHandler(), requestChecksumCalculation: 'WHEN_REQUIRED' });
    const got = await vh.send(new GetObjectCommand({ Bucket: B, Key: 'ok' }));
    expect(await got.Body!.transformToString()).toBe('fine');
    vh.destroy();
    expect(up.requests.at(-1)).toMatchObject({ style: 'virtual', bucket: B, key: 'ok', host: `${B}.s3.strict.test:${up.port}` });
  });

  it('wrong x-amz-content-sha256 → XAmzContentSHA256Mismatch, nothing stored', async () => {
    const headers = await sign('PUT', `/${B}/sha`, `127.0.0.1:${up.port}`, { 'x-amz-content-sha256': sha('something else') });
    const res = await send({ method: 'PUT', path: `/${B}/sha`, headers: { ...headers, 'content-length': '4' }, body: 'body' });
    expect(res.status).toBe(400);
    expect(res.body).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'sha' })))).name).toBe('NoSuchKey');
    expect(await readdir(join(up.root, B, '.s3gate', 'tmp'))).toEqual([]);
  });

  it('presigned GET works, expired presigned GET fails', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'ok' }), { expiresIn: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('fine');
    expect(up.requests.at(-1)?.auth).toBe('v4-query');

    const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'ok' }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
    const expired = await fetch(old);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('Request has expired');

    const tampered = url.replace('/ok?', '/other?');
    expect((await fetch(tampered)).status).toBe(403);
  });

  it('presigned PUT stores the body', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'presigned-put' }), { expiresIn: 60 });
    const res = await fetch(url, { method: 'PUT', body: 'via url' });
    expect(res.status).toBe(200);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'presigned-put' }))).Body!.transformToString()).toBe('via url');
  });

  it('aws-chunked / STREAMING payloads are rejected by default', async () => {
    const chunked = new S3Client({ region, credentials: creds, endpoint: up.url, forcePathStyle: true, requestChecksumCalculation: 'WHEN_SUPPORTED' });
    const err = await errorOf(chunked.send(new PutObjectCommand({ Bucket: B, Key: 'chunked', Body: Readable.from([Buffer.from('chunky')]), ContentLength: 6 })));
    chunked.destroy();
    const rec = up.requests.at(-1)!;
    // The SDK sends either Content-Encoding: aws-chunked or a STREAMING-* hash; both are refused.
    expect(rec.headers['content-encoding']?.includes('aws-chunked') || rec.payloadHash?.startsWith('STREAMING-')).toBe(true);
    expect(err.name).toBe('NotImplemented');
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'chunked' })))).name).toBe('NoSuchKey');

    const headers = await sign('PUT', `/${B}/chunked2`, `127.0.0.1:${up.port}`, { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '1' });
    const res = await send({ method: 'PUT', path: `/${B}/chunked2`, headers: { ...headers, 'content-length': '1' }, body: 'x' });
    expect(res.status).toBe(501);
  });

  it('PUT without Content-Length → 411 MissingContentLength', async () => {
    const headers = await sign('PUT', `/${B}/nolen`, `127.0.0.1:${up.port}`, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: up.port, method: 'PUT', path: `/${B}/nolen`, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('abc');
    });
    expect(res).toBe(411);
  });

  it('anonymous requests and stale header dates are refused', async () => {
    expect((await send({ method: 'GET', path: `/${B}/ok`, headers: {} })).status).toBe(403);
    const signer = new SignatureV4({ credentials: creds, region, service: 's3', sha256: Sha256, uriEscapePath: false });
    const host = `127.0.0.1:${up.port}`;
    const r = await signer.sign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', path: `/${B}/ok`, query: {}, headers: { host, 'x-amz-content-sha256': sha('') } }, { signingDate: new Date(Date.now() - 20 * 60_000) });
    const res = await send({ method: 'GET', path: `/${B}/ok`, headers: r.headers as Record<string, string> });
    expect(res.status).toBe(403);
    expect(res.body).toContain('RequestTimeTooSkewed');
  });

  it('SigV2 header auth is verified (hand-built string-to-sign)', async () => {
    const date = new Date().toUTCString();
    const sig = (secret: string) => createHmac('sha1', secret).update(`GET\n\n\n${date}\n/${B}/ok`).digest('base64');
    const ok = await send({ method: 'GET', path: `/${B}/ok`, headers: { date, authorization: `AWS ${creds.accessKeyId}:${sig(creds.secretAccessKey)}` } });
    expect(ok.status).toBe(200);
    expect(up.requests.at(-1)?.auth).toBe('v2-header');
    const bad = await send({ method: 'GET', path: `/${B}/ok`, headers: { date, authorization: `AWS ${creds.accessKeyId}:${sig('nope')}` } });
    expect(bad.status).toBe(403);
    expect(bad.body).toContain('SignatureDoesNotMatch');
  });
});
