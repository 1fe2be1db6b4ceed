import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lowerCase } from '../../src/s3/names.js';

// Header and query names that recur, in the spellings clients send them.
const NAMES = ['Host', 'host', 'X-Amz-Date', 'x-amz-date', 'Content-Length', 'X-Amz-Checksum-CRC32', 'X-Amz-Credential', 'İ', 'ǅ', 'Σ', 'K'];

describe('lowerCase (header and query names lower-cased once)', () => {
  it('is String.prototype.toLowerCase for any name, asked once or many times, kept or past the bound', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...NAMES), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 })), { maxLength: 40 }), (names) => {
        for (let round = 0; round < 2; round++) for (const n of names) expect(lowerCase(n)).toBe(n.toLowerCase());
      }),
      { numRuns: 400 },
    );
  });

  it('still answers once its table is full', () => {
    for (let i = 0; i < 3000; i++) expect(lowerCase(`X-Filler-${i}`)).toBe(`x-filler-${i}`);
    expect(lowerCase('X-Amz-Meta-After-The-Bound')).toBe('x-amz-meta-after-the-bound');
    expect(lowerCase('A'.repeat(200))).toBe('a'.repeat(200));
  });
});
