// parseQuery and amzDateMs read their input by index instead of with split and a regular
// expression (fewer objects per request); for any input they must answer what those did.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amzDateMs, parseAmzDate, parseQuery, safeDecode, signaturesEqual } from '../../src/signing/sigv4.js';

function splitParse(raw: string): [string, string][] {
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
    const piece = fc.constantFrom('a', 'b', '=', '&', '%2F', '%zz', '%', '+', 'é', '%C3%A9', '', 'X-Amz-Date');
    fc.assert(fc.property(fc.oneof(fc.array(piece, { maxLength: 14 }).map((a) => a.join('')), fc.string()), (raw) => {
      expect(parseQuery(raw)).toEqual(splitParse(raw));
    }), { numRuns: 20000 });
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
});
