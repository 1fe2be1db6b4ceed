import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ID_PREFIX, requestId } from '../../src/listen/pipeline.js';

describe('request ids', () => {
  it('are the process prefix and the counter in eight upper-case hex digits', () => {
    expect(ID_PREFIX).toMatch(/^[0-9A-F]{8}$/);
    for (const n of [0, 1, 15, 16, 255, 0xabcdef, 0x7fffffff, 0x80000000, 0xffffffff]) {
      expect(requestId(n)).toBe(ID_PREFIX + n.toString(16).toUpperCase().padStart(8, '0'));
    }
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (n) => {
      expect(requestId(n)).toBe(ID_PREFIX + n.toString(16).toUpperCase().padStart(8, '0'));
    }), { numRuns: 5000 });
  });
});
