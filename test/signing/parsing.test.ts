// parseQuery and amzDateMs read their input by index instead of with split and a regular
// expression (fewer objects per request); for any input they must answer what those did.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amzDateMs, parseAmzDate, parseQuery, safeDecode, signaturesEqual } from '../../src/signing/sigv4.js';

// A '+' in a query is a space, as S3 (and URLSearchParams) read it.
function splitParse(query: string): [string, string][] {
  const raw = query.replace(/\+/g, '%20');
  if (!raw) return [];
  const out: [string, string][] = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push([safeDecode(eq < 0 ? part : part.slice(0, eq)), safeDecode(eq < 0 ? '' : part.slice(eq + 1))]);
  }
  return out;
}

function regexDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

describe('parseQuery', () => {
  it('gives what splitting on & and the first = gives', () => {
    // the presign names parseQuery hands back as literals, and near misses of each length
    const piece = fc.constantFrom('a', 'b', '=', '&', '%2F', '%zz', '%', '+', 'é', '%C3%A9', '', 'X-Amz-Date', 'X-Amz-Signature',
      'X-Amz-Algorithm', 'X-Amz-SignedHeaders', 'X-Amz-Content-Sha256', 'X-Amz-Security-Token', 'X-Amz-Credential', 'X-Amz-Expires',
      'x-id', 'x-ib', 'X-Amz-Datf', 'x-amz-date', 'X-Amz-Signaturf', 'X-Amz-Content-Sha25', 'X-Amz-Expire');
    fc.assert(fc.property(fc.oneof(fc.array(piece, { maxLength: 14 }).map((a) => a.join('')), fc.string()), (raw) => {
      expect(parseQuery(raw)).toEqual(splitParse(raw));
    }), { numRuns: 20000 });
  });

  it("reads '+' as a space and %2B as a plus, as S3 reads a query (fog's and the Java SDK v1's prefix=a+b)", () => {
    expect(parseQuery('prefix=a+b&marker=k%2Bl+m&x+y=1')).toEqual([['prefix', 'a b'], ['marker', 'k+l m'], ['x y', '1']]);
    expect(parseQuery('prefix=a+b')).toEqual([...new URLSearchParams('prefix=a+b')]);
  });
});

describe('amzDateMs', () => {
  it('gives what the regular expression and Date.UTC gave, NaN where it did not match', () => {
    const digit = fc.constantFrom('0', '1', '2', '5', '9');
    const field = (n: number) => fc.array(fc.oneof(digit, fc.constantFrom('x', ' ', '٣', 'T')), { minLength: n - 1, maxLength: n + 1 }).map((a) => a.join(''));
    const date = fc.oneof(
      fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }).map((d) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')),
      fc.tuple(field(4), field(2), field(2), fc.constantFrom('T', 't', ''), field(2), field(2), field(2), fc.constantFrom('Z', 'z', 'Z ')).map((a) => a.join('')),
      fc.string({ maxLength: 18 }),
    );
    fc.assert(fc.property(date, (s) => {
      expect(amzDateMs(s)).toBe(regexDate(s));
      expect(parseAmzDate(s)?.getTime() ?? NaN).toBe(regexDate(s));
    }), { numRuns: 20000 });
    expect(amzDateMs('20150830T123600Z')).toBe(Date.UTC(2015, 7, 30, 12, 36, 0));
  });
});

describe('signaturesEqual', () => {
  it('is string equality', () => {
    fc.assert(fc.property(fc.string({ maxLength: 70 }), fc.string({ maxLength: 70 }), (a, b) => {
      expect(signaturesEqual(a, b)).toBe(a === b);
      expect(signaturesEqual(a, a)).toBe(true);
    }), { numRuns: 5000 });
  });

  it('is string equality for strings of one length that differ anywhere, in any code unit, short or past its buffer', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ minLength: 250, maxLength: 600 }));
    fc.assert(fc.property(text, fc.nat(), fc.integer({ min: 0, max: 0xffff }), (a, at, unit) => {
      // a slice, as a client's signature is (a SlicedString from 13 characters on)
      const sliced = `x${a}`.slice(1);
      expect(signaturesEqual(a, sliced)).toBe(true);
      if (a.length === 0) return;
      const i = at % a.length;
      const b = a.slice(0, i) + String.fromCharCode(unit) + a.slice(i + 1);
      expect(signaturesEqual(a, b)).toBe(a === b);
      expect(signaturesEqual(b, a)).toBe(a === b);
    }), { numRuns: 5000 });
  });
});
