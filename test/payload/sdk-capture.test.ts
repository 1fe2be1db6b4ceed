import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inboundPayload } from '../../src/payload/index.js';
import { checksumOf } from '../../src/payload/checksums.js';
import { run, splitAt } from './helpers/chunked.js';

// What the real SDK sends for a PutObject with a stream body: captured raw from
// the socket by a local server, then decoded by inboundPayload.
interface Captured {
  headers: Record<string, string>;
  body: Buffer;
}

let server: Server;
let endpoint: string;
const captured: Captured[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      captured.push({ headers, body: Buffer.concat(parts) });
      res.writeHead(200, { ETag: '"x"' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const client = () =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  });

describe('@aws-sdk/client-s3 PutObject with a stream body', () => {
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    it(`${alg}: decodes to the uploaded bytes and verifies the trailer`, async () => {
      const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
      captured.length = 0;
      await client().send(
        new PutObjectCommand({
          Bucket: 'b',
          Key: 'k',
          Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]),
          ContentLength: data.length,
          ChecksumAlgorithm: alg,
        }),
      );
      const { headers, body } = captured[0]!;
      expect(headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
      expect(headers['content-encoding']).toMatch(/aws-chunked/);
      const lower = alg.toLowerCase();
      expect(headers['x-amz-trailer']).toBe(`x-amz-checksum-${lower}`);

      const p = inboundPayload(headers);
      expect(p.mode).toBe('unsigned-trailer');
      expect(p.outboundLength).toBe(data.length);
      const r = await run(p.body, splitAt(body, [3, 5000, 65_000, 65_537, 140_000, body.length - 20]));
      expect(r.error).toBeUndefined();
      expect(r.out.equals(data)).toBe(true);
      expect(p.trailerChecksums()).toEqual({ [`x-amz-checksum-${lower}`]: checksumOf(lower as 'crc32', data) });

      // and the same capture with its trailer value corrupted is refused
      const bad = Buffer.from(body);
      const at = bad.lastIndexOf(`x-amz-checksum-${lower}:`) + `x-amz-checksum-${lower}:`.length;
      bad[at] = bad[at] === 0x41 ? 0x42 : 0x41;
      const p2 = inboundPayload(headers);
      const r2 = await run(p2.body, [bad]);
      expect((r2.error as { code?: string }).code).toBe('BadDigest');
      expect(r2.emitted).toBeLessThan(data.length);
    });
  }
});
