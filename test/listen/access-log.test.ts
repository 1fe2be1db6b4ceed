// The hand-built access line must be the line pino itself would write for the same fields, so
// that log pipelines reading s3gate's output see no difference.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { accessLine, accessLineMost, encodeAccessLine, writeAccess, type AccessFields } from '../../src/listen/access-log.js';

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
  upstreamError: opt(fc.constantFrom('NoSuchKey', 'InvalidArgument')),
  cut: opt(fc.constantFrom('shutdown', 'connection')),
});

/** What the line was before it was encoded by hand: one JSON.stringify of the fields in pino's order. */
function stringified(f: AccessFields, time: number): string {
  return JSON.stringify({
    level: 30, time, reqId: f.reqId, key: f.key, auth: f.auth, role: f.role, session: f.session, triedKey: f.triedKey,
    op: f.op, method: f.method, bucket: f.bucket, status: f.status, error: f.error, bytesIn: f.bytesIn, bytesOut: f.bytesOut,
    ms: f.ms, upstream: f.upstream, upstreamId: f.upstreamId, upstreamError: f.upstreamError, cut: f.cut, msg: 'request',
  }) + '\n';
}

/** Every field a client's request can reach, with any text at all; numbers of every kind the encoder tells apart. */
const anyFields = (text: fc.Arbitrary<string>): fc.Arbitrary<AccessFields> => fc.record({
  reqId: text,
  key: opt(text), auth: opt(text), role: opt(text), session: opt(text), triedKey: opt(text), op: opt(text), method: opt(text),
  bucket: opt(text), status: fc.integer({ min: 0, max: 999 }), error: opt(text),
  bytesIn: fc.oneof(fc.nat(), fc.maxSafeNat(), fc.integer({ min: 2 ** 31 - 2, max: 2 ** 33 })),
  bytesOut: fc.oneof(fc.nat(), fc.maxSafeNat()),
  ms: fc.oneof(
    fc.nat({ max: 1e11 }).map((c) => c / 100),
    fc.double({ min: 0, max: 1e12, noNaN: true }).map((x) => Math.round(x * 100) / 100),
    fc.double(),
    fc.constantFrom(0, -0, 0.1, 0.07, 1e9 - 0.01, 1e9 + 0.5, 2 ** 53, 2 ** 53 + 2, 1e21, -1.5, NaN, Infinity),
  ),
  upstream: opt(text), upstreamId: opt(text), upstreamError: opt(text), cut: opt(text),
}, { requiredKeys: ['reqId', 'status', 'bytesIn', 'bytesOut', 'ms'] });

const TEXT = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '\u007f', '\u0000', '\u001f', '\u2028', '\ud800', '\udc00', 'é', '🪣') }),
  fc.string({ unit: 'grapheme-ascii' }),
);

describe('access line', () => {
  it('is byte for byte what JSON.stringify of the fields writes, for any text a client can send and any number', () => {
    fc.assert(fc.property(anyFields(TEXT), fc.oneof(fc.maxSafeNat(), fc.constant(1_763_700_000_123)), (f, time) => {
      expect(accessLine(f, time)).toBe(stringified(f, time));
    }), { numRuns: 3000 });
  });

  it('encoded into a buffer at any offset, is the line\'s UTF-8 within the room it asked for, and writes nothing beyond it', () => {
    fc.assert(fc.property(anyFields(TEXT), fc.nat({ max: 64 }), (f, at) => {
      const most = accessLineMost(f);
      const buf = Buffer.alloc(at + most + 16, 0xee);
      const end = encodeAccessLine(buf, at, f, TIME);
      expect(end - at).toBeLessThanOrEqual(most);
      expect(buf.subarray(at, end).equals(Buffer.from(stringified(f, TIME)))).toBe(true);
      expect(buf.subarray(0, at).every((b) => b === 0xee)).toBe(true);
      expect(buf.subarray(end).every((b) => b === 0xee)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('is the same in a run of lines that repeat some fields and change others (its parts kept from the line before)', () => {
    // Two values per field, so that consecutive lines share and differ in every combination.
    const two = (a: string | undefined, b: string | undefined) => fc.constantFrom(a, b);
    const line: fc.Arbitrary<AccessFields> = fc.record({
      reqId: two('A', 'B')  as fc.Arbitrary<string>, key: two('AKIAIOSFODNN7EXAMPLE', undefined), auth: two('v4-query', 'anonymous'),
      role: two(undefined, 'r\u00f4le'), session: two(undefined, 's'), triedKey: two(undefined, 'a"b'), op: two('GetObject', 'PutObject'),
      method: two('GET', 'PUT'), bucket: two('bench', 'b\u00e9nch'), status: fc.constantFrom(200, 404), error: two(undefined, 'NoSuchKey'),
      bytesIn: fc.constantFrom(0, 4096), bytesOut: fc.constantFrom(0, 4096), ms: fc.constantFrom(0.35, 12),
      upstream: two('nginx', undefined), upstreamId: two(undefined, 'X\\Y'), upstreamError: two(undefined, 'NoSuchKey'),
    });
    fc.assert(fc.property(fc.array(line, { minLength: 2, maxLength: 40 }), (lines) => {
      for (const f of lines) expect(accessLine(f, TIME)).toBe(stringified(f, TIME));
    }), { numRuns: 500 });
  });

  it('takes the most room a field can need: every unit escaped as \\u00XX, or three bytes of UTF-8', () => {
    for (const unit of ['\u0001', '€', '\ud800']) {
      const s = unit.repeat(1000);
      const f: AccessFields = { reqId: s, key: s, bucket: s, triedKey: s, status: 599, bytesIn: 2 ** 53 - 1, bytesOut: 2 ** 53 - 1, ms: -1.2345678901234567e-300 };
      const buf = Buffer.alloc(accessLineMost(f));
      expect(buf.toString('utf8', 0, encodeAccessLine(buf, 0, f, 2 ** 53 - 1))).toBe(stringified(f, 2 ** 53 - 1));
    }
  });

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

  it('carries a child logger\'s fields (a worker\'s number) where pino puts them, as its other lines do', () => {
    const lines: string[] = [];
    const dest = new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } });
    const worker = pino({ level: 'info', base: undefined, timestamp: () => `,"time":${TIME}` }, dest).child({ worker: 2, note: 'é"' });
    const f: AccessFields = { reqId: 'R1', key: 'K', op: 'GetObject', status: 200, bytesIn: 0, bytesOut: 4096, ms: 0.35, upstream: 'u' };
    writeAccess(worker, { ...f });
    worker.info({ ...f }, 'request');
    expect(lines).toHaveLength(2);
    // The same bytes but the time, which writeAccess takes from the clock.
    const [mine, theirs] = lines.map((l) => l.replace(/"time":\d+/, '"time":0'));
    expect(mine).toBe(theirs);
    expect((JSON.parse(lines[0]!) as { worker: number }).worker).toBe(2);
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
