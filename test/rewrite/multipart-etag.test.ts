// The multipart ETag s3gate puts in a CompleteMultipartUploadResult a provider left empty: S3's
// MD5 of the parts' MD5s and their count, from the client's own body; nothing when a part's ETag is
// no MD5, and a provider's non-empty ETag untouched.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { multipartEtag } from '../../src/s3/etag.js';
import { filledEtag } from '../../src/rewrite/response.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest();

describe('multipartEtag', () => {
  it('the MD5 of the parts\' MD5s, then their count; the ETags quoted, escaped or bare, checksums beside them', () => {
    const a = md5('part one');
    const b = md5('part two');
    const want = `"${createHash('md5').update(Buffer.concat([a, b])).digest('hex')}-2"`;
    const body = `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
      + `<Part><ETag>&quot;${a.toString('hex')}&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>1</PartNumber></Part>`
      + `<Part>\n  <PartNumber>2</PartNumber>\n  <ETag>${b.toString('hex').toUpperCase()}</ETag>\n</Part></CompleteMultipartUpload>`;
    expect(multipartEtag(body)).toBe(want);
    expect(multipartEtag(body.replace('&quot;', '"').replace('&quot;', '"'))).toBe(want);
  });

  it('nothing where a part\'s ETag is no MD5, or there are no parts', () => {
    expect(multipartEtag('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part></CompleteMultipartUpload>')).toBeUndefined();
    expect(multipartEtag('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>')).toBeUndefined();
    expect(multipartEtag('<CompleteMultipartUpload></CompleteMultipartUpload>')).toBeUndefined();
  });
});

describe('filledEtag', () => {
  const md5hex = createHash('md5').update('only part').digest('hex');
  const body = Buffer.from(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"${md5hex}"</ETag></Part></CompleteMultipartUpload>`);
  const want = `"${createHash('md5').update(Buffer.from(md5hex, 'hex')).digest('hex')}-1"`.replaceAll('"', '&quot;');

  it('fills an empty ETag, escaped, from the parts; leaves a provider\'s own', () => {
    const empty = '<CompleteMultipartUploadResult><Location>/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>';
    expect(filledEtag(empty, body)).toContain(`<ETag>${want}</ETag>`);
    expect(filledEtag(empty.replace('<ETag></ETag>', '<ETag/>'), body)).toContain(`<ETag>${want}</ETag>`);
    const own = empty.replace('<ETag></ETag>', '<ETag>&quot;theirs-2&quot;</ETag>');
    expect(filledEtag(own, body)).toBe(own);
  });

  it('an empty ETag stays empty when a part\'s ETag is no MD5', () => {
    const empty = '<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>';
    expect(filledEtag(empty, Buffer.from('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"kms-etag"</ETag></Part></CompleteMultipartUpload>'))).toBe(empty);
  });
});
