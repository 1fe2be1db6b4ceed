// S3 errors as AWS sends them: the code, the HTTP status and the message clients show.
// Every stage throws S3Error; listen/ renders it as the S3 XML error document.

export interface S3ErrorDetail {
  [element: string]: string | undefined;
}

const CATALOG = {
  AccessDenied: [403, 'Access Denied'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadRequest: [400, 'Bad Request'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty'],
  ConditionalRequestConflict: [409, 'The conditional request cannot succeed due to a conflicting operation against this resource.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed size'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified was invalid.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  KeyTooLongError: [400, 'Your key is too long'],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchUpload: [404, 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  SlowDown: [503, 'Please reduce your request rate.'],
  UnexpectedContent: [400, 'This request does not support content'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof CATALOG;

// Messages of codes only providers answer with, for an answer that came without one.
const PROVIDER_MESSAGES: Record<string, string> = {
  NoSuchVersion: 'The specified version does not exist.',
  NoSuchLifecycleConfiguration: 'The lifecycle configuration does not exist',
  NoSuchCORSConfiguration: 'The CORS configuration does not exist',
  NoSuchBucketPolicy: 'The bucket policy does not exist',
  NoSuchWebsiteConfiguration: 'The specified bucket does not have a website configuration',
  ServerSideEncryptionConfigurationNotFoundError: 'The server side encryption configuration was not found',
  ObjectLockConfigurationNotFoundError: 'Object Lock configuration does not exist for this bucket',
  TooManyBuckets: 'You have attempted to create more buckets than allowed',
  InvalidLocationConstraint: 'The specified location-constraint is not valid',
};

/** S3's message for an error code, as AWS words it; undefined for a code s3gate does not know. */
export function s3Message(code: string): string | undefined {
  return Object.hasOwn(CATALOG, code) ? CATALOG[code as S3ErrorCode][1] : Object.hasOwn(PROVIDER_MESSAGES, code) ? PROVIDER_MESSAGES[code] : undefined;
}

export class S3Error extends Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  /** extra elements AWS puts in the error document (StringToSign, ClientComputedContentSHA256, ...) */
  readonly detail: S3ErrorDetail;

  constructor(code: S3ErrorCode, message?: string, detail: S3ErrorDetail = {}, status?: number) {
    const [defaultStatus, defaultMessage] = CATALOG[code];
    super(message ?? defaultMessage);
    this.name = 'S3Error';
    this.code = code;
    this.status = status ?? defaultStatus;
    this.detail = detail;
  }
}

export function isS3Error(e: unknown): e is S3Error {
  return e instanceof S3Error;
}

// Control characters but tab and LF as references, as S3 and RGW write them: a parser reads a raw
// CR as LF (boto3 then names a key that does not exist), and the rest are no XML 1.0 at all. LF
// stays raw, as in S3's StringToSign, which XML keeps as it is.
export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\x00-\x08\x0b-\x1f]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : c === "'" ? '&apos;' : `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`,
  );
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML text back to its characters: the five named entities and numeric references. */
export function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : XML_ENTITIES[e]!);
}

/** The S3 error document. `resource` is the path the client asked for, `requestId` ours. */
export function errorXml(err: S3Error, resource: string, requestId: string): string {
  let extra = '';
  for (const [k, v] of Object.entries(err.detail)) {
    if (v !== undefined) extra += `<${k}>${escapeXml(v)}</${k}>`;
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message>${extra}` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`
  );
}
