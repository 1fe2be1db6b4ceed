// canonicalQuery skips the sort when the pairs arrive in canonical order (as presigners send
// them); whatever the order, it must give what always sorting gives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, uriEncode } from '../../src/signing/sigv4.js';

function reference(pairs: [string, string][], exclude?: string): string {
  return pairs
    .filter(([n]) => n !== exclude)
    .map(([n, v]): [string, string] => [uriEncode(n, false), uriEncode(v, false)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

// Few distinct names and values, so that ties on the name and repeats are common.
const text = fc.oneof(fc.constantFrom('a', 'b', 'A', 'X-Amz-Date', 'x-id', 'k~', 'é', ''), fc.string({ maxLength: 6 }));
const pairs = fc.array(fc.tuple(text, text), { maxLength: 12 });

describe('canonicalQuery', () => {
  it('equals the always-sorted canonical query for any pairs, sorted or not', () => {
    fc.assert(fc.property(pairs, fc.option(text, { nil: undefined }), (ps, exclude) => {
      expect(canonicalQuery(ps, exclude)).toBe(reference(ps, exclude));
    }), { numRuns: 2000 });
  });

  it('equals it for pairs already in canonical order, as presigners send them', () => {
    fc.assert(fc.property(pairs, (ps) => {
      const ordered = [...ps].sort((a, b) => {
        const [x, y] = [[uriEncode(a[0], false), uriEncode(a[1], false)], [uriEncode(b[0], false), uriEncode(b[1], false)]];
        return x[0]! < y[0]! ? -1 : x[0]! > y[0]! ? 1 : x[1]! < y[1]! ? -1 : x[1]! > y[1]! ? 1 : 0;
      });
      expect(canonicalQuery(ordered)).toBe(reference(ordered));
    }), { numRuns: 1000 });
  });
});
