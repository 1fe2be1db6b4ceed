// The hand-built access line must be the line pino itself would write for the same fields, so
// that log pipelines reading s3gate's output see no difference.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { accessLine, writeAccess, type AccessFields } from '../../src/listen/access-log.js';

const TIME = 1_763_700_000_123;

function pinoLine(f: AccessFields): string {
  let out = '';
  const dest = new Writable({ write(c: Buffer, _e, cb) { out += c.toString(); cb(); } });
  const log = pino({ level: 'info', base: undefined, timestamp: () => `,"time":${TIME}` }, dest);
  log.info({ ...f }, 'request');
  // pino writes synchronously into a plain Writable
  return out;
}

const opt = (s: fc.Arbitrary<string>) => fc.option(s, { nil: undefined });

const fields = (text: fc.Arbitrary<string>): fc.Arbitrary<AccessFields> => fc.record({
  reqId: fc.stringMatching(/^[0-9A-F]{16}$/),
  key: opt(text),
  auth: opt(fc.constantFrom('v4-header', 'v4-query', 'v2-header', 'v2-query', 'anonymous')),
  triedKey: opt(text),
  op: opt(fc.constantFrom('GetObject', 'PutObject', 'ListObjectsV2')),
  method: opt(fc.constantFrom('GET', 'PUT', 'HEAD', 'POST', 'DELETE')),
  bucket: opt(text),
  status: fc.integer({ min: 100, max: 599 }),
  error: opt(fc.constantFrom('AccessDenied', 'SignatureDoesNotMatch', 'ClientClosed')),
  bytesIn: fc.nat(),
  bytesOut: fc.nat(),
  ms: fc.double({ min: 0, max: 1e6, noNaN: true }).map((x) => Math.round(x * 100) / 100),
  upstream: opt(text),
  upstreamId: opt(text),
});

describe('access line', () => {
  it('is byte for byte the line pino writes, for any printable text in the fields', () => {
    fc.assert(fc.property(fields(fc.string({ unit: 'grapheme' })), (f) => {
      expect(accessLine(f, TIME)).toBe(pinoLine(f));
    }), { numRuns: 500 });
  });

  it('is valid JSON with the same content as pino\'s for any text at all, control characters and lone surrogates included', () => {
    fc.assert(fc.property(fields(fc.string({ unit: 'binary' })), (f) => {
      const mine = accessLine(f, TIME);
      expect(mine.endsWith('}\n')).toBe(true);
      expect(mine.slice(0, -1)).not.toContain('\n');
      expect(JSON.parse(mine)).toEqual(JSON.parse(pinoLine(f)));
    }), { numRuns: 500 });
  });

  it('goes to the logger\'s own stream, and not at all when the level is above info', () => {
    const lines: string[] = [];
    const dest = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } });
    const log = pino({ level: 'info', base: undefined }, dest);
    log.info('before');
    writeAccess(log, { reqId: 'A', status: 200, bytesIn: 1, bytesOut: 2, ms: 0.5 });
    log.info('after');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['before', 'request', 'after']);
    log.level = 'warn';
    writeAccess(log, { reqId: 'B', status: 200, bytesIn: 1, bytesOut: 2, ms: 0.5 });
    expect(lines).toHaveLength(3);
  });
});
