// The Credential of a SigV4 signature is read from its end (<id>/<date>/<region>/<service>/aws4_request),
// with index arithmetic on the hot path: pinned here against the plain split-based reading, on
// inputs built from the pieces that make it go wrong (extra or missing slashes, empty parts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseAuthorizationV4 } from '../../src/authenticate/sigv4.js';

function reference(value: string) {
  const parts = value.split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') return 'malformed';
  const [date, region, service] = parts.slice(-4, -1);
  return { accessKeyId: parts.slice(0, -4).join('/'), date, region, service, scope: parts.slice(-4).join('/') };
}

function parsed(value: string) {
  try {
    return parseAuthorizationV4(`AWS4-HMAC-SHA256 Credential=${value}, SignedHeaders=host, Signature=0`).credential;
  } catch (e) {
    expect((e as { code?: string }).code).toBe('AuthorizationHeaderMalformed');
    return 'malformed';
  }
}

describe('SigV4 Credential', () => {
  it('reads the same id and scope as splitting on "/" would, or refuses the same values', () => {
    const piece = fc.constantFrom('AKID', '/', 'aws4_request', '', 'x/', '//', '20130524', 'us-east-1', 's3');
    fc.assert(fc.property(fc.array(piece, { maxLength: 12 }).map((a) => a.join('')), (v) => {
      expect(parsed(v)).toEqual(reference(v));
    }), { numRuns: 5000 });
  });

  it('reads the AWS documentation example', () => {
    expect(parsed('AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request')).toEqual({
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE', date: '20130524', region: 'us-east-1', service: 's3', scope: '20130524/us-east-1/s3/aws4_request',
    });
  });
});

// The Authorization header's fields are read in one pass of index arithmetic (no Map, no split):
// pinned against the split-and-Map reading it replaced, on headers built from the pieces that
// make it go wrong (repeated fields, empty parts, '=' in values, spaces, fields out of order).
function referenceFields(header: string) {
  const fields = new Map<string, string>();
  for (const part of header.slice('AWS4-HMAC-SHA256'.length).trim().split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const cred = fields.get('Credential');
  const sh = fields.get('SignedHeaders');
  const sig = fields.get('Signature');
  if (!cred || !sh || !sig || reference(cred) === 'malformed') return 'malformed';
  return { credential: cred, signedHeaders: sh.split(';'), signature: sig };
}

function parsedFields(header: string) {
  try {
    const p = parseAuthorizationV4(header);
    expect(p.signedHeadersText).toBe(p.signedHeaders.join(';'));
    return { credential: p.credential.accessKeyId + '/' + p.credential.scope, signedHeaders: p.signedHeaders, signature: p.signature };
  } catch (e) {
    expect((e as { code?: string }).code).toBe('AuthorizationHeaderMalformed');
    return 'malformed';
  }
}

describe('SigV4 Authorization fields', () => {
  it('reads the same Credential, SignedHeaders and Signature as splitting on "," into a Map would', () => {
    const piece = fc.constantFrom(
      'Credential=AKID/20130524/us-east-1/s3/aws4_request', 'Credential=OTHER/20130524/us-east-1/s3/aws4_request',
      'SignedHeaders=host;x-amz-date', 'SignedHeaders=', 'Signature=abc', 'Signature=a=b', ' Signature = ff ',
      ',', ', ', '=', 'x=y', ' ', 'Credential', '',
      // what trim() removes around a name and what it keeps
      '\t', '\u00a0', '\u2028', '\ufeff', '\u3000', '\u200b', '\u0085', '\n', 'Signature', 'SignedHeaders', 'Credential=A/1/r/s/aws4_request',
    );
    fc.assert(fc.property(fc.array(piece, { maxLength: 10 }).map((a) => 'AWS4-HMAC-SHA256 ' + a.join('')), (h) => {
      expect(parsedFields(h)).toEqual(referenceFields(h));
    }), { numRuns: 5000 });
  });

  it('reads the SDKs\' exact shape (taken in place) as the general reading does, whatever the values hold', () => {
    const value = fc.array(fc.constantFrom('AKID/20130524/us-east-1/s3/aws4_request', 'host;x-amz-date', 'ab12', '', ' ', ',', ', ', '=', ';',
      '\t', '\u00a0', '\ufeff', '\u200b', 'Signature=x', ', Signature=', ', SignedHeaders=', 'Credential='), { maxLength: 4 }).map((a) => a.join(''));
    fc.assert(fc.property(value, value, value, fc.constantFrom('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA25X', ''), (c, sh, g, alg) => {
      const h = `${alg} Credential=${c}, SignedHeaders=${sh}, Signature=${g}`;
      expect(parsedFields(h)).toEqual(referenceFields(h));
    }), { numRuns: 10000 });
  });
});
