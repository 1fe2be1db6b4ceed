// The edges of the request path: X-Forwarded-Host believed only from trusted proxies,
// `Expect: 100-continue` answered only after authentication, and TLS to the provider verified
// (with a private CA when configured).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startStrictUpstream, type StrictUpstream } from '../upstream/strict-upstream.js';
import { client, GW_KEY, portOf, startTestGateway, tmpDir, UP_KEY } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls.js';

let up: StrictUpstream;
beforeAll(async () => {
  up = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1' });
  await up.store.handle({ method: 'PUT', bucket: 'edge', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
});
afterAll(async () => {
  await up?.close();
});

const grants = [{ ...GW_KEY, allow: [{ bucket: '*', actions: ['read', 'write', 'list'] }] }];

/** A request signed for `signedHost` but sent to the gateway's own address with X-Forwarded-Host. */
async function viaProxy(gwPort: number, signedHost: string): Promise<number> {
  const signer = new SignatureV4({ credentials: GW_KEY, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign({ method: 'GET', protocol: 'https:', hostname: signedHost, path: '/edge/fwd.txt', query: {},
    headers: { host: signedHost, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const headers = { ...(signed.headers as Record<string, string>), host: `10.0.0.5:${gwPort}`, 'x-forwarded-host': signedHost, 'x-forwarded-proto': 'https' };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gwPort, path: '/edge/fwd.txt', headers }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('behind a load balancer', () => {
  it('X-Forwarded-Host counts from a trusted proxy and from no one else', async () => {
    const doc = (trusted: string[]) => ({
      domains: ['files.public.test'], keys: grants, trustedProxies: trusted,
      upstreams: { u: { provider: 'minio', endpoint: up.url, credentials: UP_KEY } }, buckets: { edge: { upstream: 'u' } },
    });
    const trusted = await startTestGateway(doc(['127.0.0.0/8']));
    const untrusted = await startTestGateway(doc(['10.9.0.0/16']));
    try {
      await client(trusted.url, GW_KEY, { forcePathStyle: true }).send(new PutObjectCommand({ Bucket: 'edge', Key: 'fwd.txt', Body: 'x' }));
      expect(await viaProxy(portOf(trusted.url), 'files.public.test')).toBe(200);
      expect(await viaProxy(portOf(untrusted.url), 'files.public.test')).toBe(403);
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});

describe('Expect: 100-continue', () => {
  it('is answered only after authentication: a bad signature gets 403 before any body is sent', async () => {
    const gw = await startTestGateway({ keys: grants, upstreams: { u: { provider: 'minio', endpoint: up.url, credentials: UP_KEY } }, buckets: { edge: { upstream: 'u' } } });
    try {
      const port = portOf(gw.url);
      const attempt = async (secret: string) => {
        const signer = new SignatureV4({ credentials: { ...GW_KEY, secretAccessKey: secret }, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
        const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port, path: '/edge/continue.txt', query: {},
          headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '5', expect: '100-continue' } });
        return new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
          let continued = false;
          const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/edge/continue.txt', headers: signed.headers as Record<string, string> }, (res) => {
            res.resume();
            resolve({ continued, status: res.statusCode! });
          });
          req.on('continue', () => {
            continued = true;
            req.end('hello');
          });
          req.on('error', reject);
          req.flushHeaders();
        });
      };
      expect(await attempt('wrong')).toEqual({ continued: false, status: 403 });
      expect(await attempt(GW_KEY.secretAccessKey)).toEqual({ continued: true, status: 200 });
    } finally {
      await gw.close();
    }
  });
});

describe('TLS to the provider', () => {
  it('verifies the certificate; a private CA can be configured; verification can be turned off', async () => {
    const cert = selfSignedCert(['127.0.0.1']);
    const tlsUp = await startStrictUpstream({ ...UP_KEY, region: 'us-east-1', tls: { cert: cert.pem, key: readFileSync(cert.key) } });
    await tlsUp.store.handle({ method: 'PUT', bucket: 'edge', query: new URLSearchParams(), headers: {}, body: Readable.from([]) });
    const dir = tmpDir('s3gate-ca-');
    writeFileSync(join(dir, 'ca.pem'), cert.pem);
    const gw = await startTestGateway({
      keys: grants,
      upstreams: {
        strictTls: { provider: 'minio', endpoint: tlsUp.url, credentials: UP_KEY },
        privateCa: { provider: 'minio', endpoint: tlsUp.url, credentials: UP_KEY, tls: { ca: join(dir, 'ca.pem') } },
        noVerify: { provider: 'minio', endpoint: tlsUp.url, credentials: UP_KEY, tls: { verify: false } },
      },
      buckets: { 'tls-a': { upstream: 'strictTls', bucket: 'edge' }, 'tls-b': { upstream: 'privateCa', bucket: 'edge' }, 'tls-c': { upstream: 'noVerify', bucket: 'edge' } },
    });
    try {
      const s3 = client(gw.url, GW_KEY, { forcePathStyle: true });
      const e = await s3.send(new PutObjectCommand({ Bucket: 'tls-a', Key: 'k', Body: 'x' })).catch((x: { $metadata: { httpStatusCode: number } }) => x.$metadata.httpStatusCode);
      expect(e).toBe(503);
      await s3.send(new PutObjectCommand({ Bucket: 'tls-b', Key: 'k', Body: 'via private CA' }));
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'tls-c', Key: 'k' }))).Body!.transformToString()).toBe('via private CA');
    } finally {
      await gw.close();
      await tlsUp.close();
    }
  });
});

describe('TLS certificates reload with the config', () => {
  it('new connections get the new certificate; the old config is replaced without a restart', async () => {
    const { buildConfig } = await import('../../src/config/load.js');
    const { tmpdir } = await import('node:os');
    const tls = await import('node:tls');
    const first = selfSignedCert(['first.example.test']);
    const second = selfSignedCert(['second.example.test']);
    const doc = (c: { cert: string; key: string }) => ({
      listen: [{ address: '127.0.0.1:0', tls: { cert: c.cert, key: c.key } }],
      keys: grants, upstreams: { u: { provider: 'minio', endpoint: up.url, credentials: UP_KEY } }, buckets: { edge: { upstream: 'u' } },
    });
    const gw = await startTestGateway(doc(first));
    try {
      const port = portOf(gw.url);
      const subject = () => new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.end();
        });
        s.on('error', reject);
      });
      expect(await subject()).toBe('first.example.test');
      gw.setConfig(buildConfig(doc(second), tmpdir(), {}));
      expect(await subject()).toBe('second.example.test');
    } finally {
      await gw.close();
    }
  });
});
