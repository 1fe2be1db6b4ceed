// The answer's body as the client gets it: listing fields a provider left raw under
// encoding-type=url encoded as S3 does, and an empty error message given S3's words.
import { describe, expect, it } from 'vitest';
import { encodeListingFields, withErrorMessage } from '../../src/rewrite/response.js';

describe('encodeListingFields', () => {
  it('encodes Prefix, Delimiter, Marker, NextMarker, StartAfter, KeyMarker and NextKeyMarker as S3 does, after undoing XML escapes', () => {
    const v1 = '<ListBucketResult><EncodingType>url</EncodingType><Name>b</Name><Prefix>d+ir &amp; é/</Prefix><Delimiter>/</Delimiter>'
      + '<CommonPrefixes><Prefix>d%2Bir%20%26%20%C3%A9/x/</Prefix></CommonPrefixes><Marker>a+b</Marker><NextMarker>c++ 1%</NextMarker></ListBucketResult>';
    expect(encodeListingFields(v1)).toBe('<ListBucketResult><EncodingType>url</EncodingType><Name>b</Name><Prefix>d%2Bir+%26+%C3%A9/</Prefix><Delimiter>/</Delimiter>'
      + '<CommonPrefixes><Prefix>d%2Bir%20%26%20%C3%A9/x/</Prefix></CommonPrefixes><Marker>a%2Bb</Marker><NextMarker>c%2B%2B+1%25</NextMarker></ListBucketResult>');
    const v2 = '<ListBucketResult><EncodingType>url</EncodingType><Prefix>a b</Prefix><StartAfter>a+</StartAfter><NextContinuationToken>a+b c</NextContinuationToken><Contents><Key>a%2Bb</Key></Contents></ListBucketResult>';
    expect(encodeListingFields(v2)).toBe('<ListBucketResult><EncodingType>url</EncodingType><Prefix>a+b</Prefix><StartAfter>a%2B</StartAfter><NextContinuationToken>a+b c</NextContinuationToken><Contents><Key>a%2Bb</Key></Contents></ListBucketResult>');
    const versions = '<ListVersionsResult><EncodingType>url</EncodingType><KeyMarker>k+1</KeyMarker><VersionIdMarker></VersionIdMarker><NextKeyMarker>k+2</NextKeyMarker><NextVersionIdMarker>v+1</NextVersionIdMarker></ListVersionsResult>';
    expect(encodeListingFields(versions)).toBe('<ListVersionsResult><EncodingType>url</EncodingType><KeyMarker>k%2B1</KeyMarker><VersionIdMarker></VersionIdMarker><NextKeyMarker>k%2B2</NextKeyMarker><NextVersionIdMarker>v+1</NextVersionIdMarker></ListVersionsResult>');
  });

  it('leaves an answer alone that does not say it is url-encoded', () => {
    const raw = '<ListBucketResult><Prefix>a+b</Prefix><NextMarker>c+d</NextMarker></ListBucketResult>';
    expect(encodeListingFields(raw)).toBe(raw);
  });
});

describe('withErrorMessage', () => {
  it("fills an empty Message with S3's message for the code, and leaves a message alone", () => {
    const rgw = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message></Message><BucketName>b</BucketName></Error>';
    expect(withErrorMessage(rgw)).toBe('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><BucketName>b</BucketName></Error>');
    expect(withErrorMessage('<Error><Code>NoSuchBucketPolicy</Code><Message/></Error>')).toBe('<Error><Code>NoSuchBucketPolicy</Code><Message>The bucket policy does not exist</Message></Error>');
    expect(withErrorMessage('<Error><Code>QuotaExceeded</Code><Message></Message></Error>')).toBe('<Error><Code>QuotaExceeded</Code><Message>The provider answered QuotaExceeded without a message.</Message></Error>');
    const worded = '<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>';
    expect(withErrorMessage(worded)).toBe(worded);
  });
});
