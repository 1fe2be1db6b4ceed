import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { splitHost } from '../../src/addressing/resolve.js';

// What splitHost worked out on every request before it kept its answers.
function reference(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i >= 0 ? h.slice(0, i) : h;
}

describe('splitHost', () => {
  it('is the lower-cased host without its port, asked once or again, kept or past the bound', () => {
    const host = fc.oneof(
      fc.constantFrom('LocalHost:8080', 'localhost', 'S3.Example.COM', '[::1]:9000', '[FE80::1]', '127.0.0.1:7480', 'demo.s3.localhost:8000'),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 400 }),
    );
    fc.assert(fc.property(fc.array(host, { maxLength: 20 }), (hosts) => {
      for (let round = 0; round < 2; round++) for (const h of hosts) expect(splitHost(h)).toBe(reference(h));
    }), { numRuns: 500 });
    for (let i = 0; i < 2000; i++) expect(splitHost(`Bucket-${i}.Example.com:80`)).toBe(`bucket-${i}.example.com`);
  });
});
