// What a form's fields become: the PutObject's headers, its key, the redirect; pure functions of
// listen/post-object.ts, with S3's errors.
import { describe, expect, it } from 'vitest';
import { objectKey, putHeaders, redirectTarget, taggingHeader } from '../../src/listen/post-object.js';
import { S3Error } from '../../src/s3/errors.js';

const fields = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));

describe('putHeaders', () => {
  it('maps the object fields to headers, and nothing of the form itself', () => {
    expect(putHeaders(fields({
      key: 'k', policy: 'p', 'x-amz-signature': 's', 'x-amz-credential': 'c', 'x-amz-algorithm': 'a', 'x-amz-date': 'd', AWSAccessKeyId: 'id', signature: 's',
      success_action_status: '201', success_action_redirect: 'https://x/', 'x-ignore-a': 'b', 'x-amz-security-token': 't',
      'Content-Type': 'image/png', 'Cache-Control': 'max-age=1', 'Content-Disposition': 'inline', 'Content-Encoding': 'gzip', 'Content-Language': 'fr',
      Expires: 'Wed, 21 Oct 2030 07:28:00 GMT', 'Content-MD5': 'XrY7u+Ae7tCTyyK7j1rNww==', acl: 'public-read',
      tagging: '<Tagging><TagSet><Tag><Key>a b</Key><Value>c&amp;d</Value></Tag><Tag><Key>e</Key><Value></Value></Tag></TagSet></Tagging>',
      'x-amz-meta-owner': 'alice', 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-server-side-encryption': 'AES256',
      'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-website-redirect-location': '/other',
      'x-amz-copy-source': '/b/secret', 'x-amz-copy-source-range': 'bytes=0-1',
    }))).toEqual({
      'content-type': 'image/png', 'cache-control': 'max-age=1', 'content-disposition': 'inline', 'content-encoding': 'gzip', 'content-language': 'fr',
      expires: 'Wed, 21 Oct 2030 07:28:00 GMT', 'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==', 'x-amz-acl': 'public-read', 'x-amz-tagging': 'a%20b=c%26d&e=',
      'x-amz-meta-owner': 'alice', 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-server-side-encryption': 'AES256',
      'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-website-redirect-location': '/other',
    });
  });

  it('binary/octet-stream without a Content-Type field', () => {
    expect(putHeaders(fields({ key: 'k' }))).toEqual({ 'content-type': 'binary/octet-stream' });
  });

  it('a value a header cannot carry: 400 InvalidArgument naming the field', () => {
    const e = (() => { try { putHeaders(fields({ 'x-amz-meta-x': 'a\r\nx-amz-acl: public-read' })); } catch (err) { return err as S3Error; } })();
    expect([e?.code, e?.detail.ArgumentName]).toEqual(['InvalidArgument', 'x-amz-meta-x']);
  });

  it('text beyond ASCII: its UTF-8 bytes, one char per byte, as a header carries them; a control character still refused', () => {
    expect(putHeaders(fields({ 'x-amz-meta-name': 'café 日本', 'Content-Disposition': 'attachment; filename="é.pdf"' }))).toEqual({
      'content-type': 'binary/octet-stream', 'x-amz-meta-name': Buffer.from('café 日本').toString('latin1'), 'content-disposition': Buffer.from('attachment; filename="é.pdf"').toString('latin1'),
    });
    expect(() => putHeaders(fields({ 'x-amz-meta-x': 'é\u0000' }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => putHeaders(fields({ 'x-amz-meta-x': 'é\u007f' }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('malformed tagging XML: MalformedXML', () => {
    expect(() => taggingHeader('<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>')).toThrow(expect.objectContaining({ code: 'MalformedXML' }));
    expect(() => taggingHeader('a=b')).toThrow(expect.objectContaining({ code: 'MalformedXML' }));
    expect(taggingHeader('<?xml version="1.0"?>\n<Tagging>\n <TagSet/>\n</Tagging>'.replace('<TagSet/>', '<TagSet></TagSet>'))).toBe('');
  });
});

describe('objectKey', () => {
  it('puts the file name in for ${filename}', () => {
    expect(objectKey(fields({ key: 'u/${filename}' }), 'cat ü.png')).toBe('u/cat ü.png');
    expect(objectKey(fields({ key: 'plain' }), 'x')).toBe('plain');
  });

  it('no key, or a key over 1024 bytes: S3 errors', () => {
    expect(() => objectKey(fields({}), 'x')).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => objectKey(fields({ key: 'k/${filename}' }), 'x'.repeat(1024))).toThrow(expect.objectContaining({ code: 'KeyTooLongError' }));
  });
});

describe('redirectTarget', () => {
  it('adds bucket, key and etag to the query, before any fragment', () => {
    expect(redirectTarget('https://app.example/done', 'b', 'a b/c', '"e"')).toBe('https://app.example/done?bucket=b&key=a%20b%2Fc&etag=%22e%22');
    expect(redirectTarget('https://app.example/done?x=1#top', 'b', 'k', '"e"')).toBe('https://app.example/done?x=1&bucket=b&key=k&etag=%22e%22#top');
  });

  it('what is not an http(s) URL is ignored, as S3 ignores it', () => {
    expect(redirectTarget('not a url', 'b', 'k', 'e')).toBeUndefined();
    expect(redirectTarget('javascript:alert(1)', 'b', 'k', 'e')).toBeUndefined();
  });
});
