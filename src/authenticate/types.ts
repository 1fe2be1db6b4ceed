import type { GatewayKey } from '../config/types.js';
import type { HeaderValue } from '../signing/sigv4.js';

export interface AuthInput {
  method: string;
  /** the Host the client signed (X-Forwarded-Host from a trusted proxy) */
  host: string;
  rawPath: string;
  rawQuery: string;
  /** rawQuery already parsed (parseQuery), when the caller has it */
  query?: [string, string][];
  /**
   * canonicalQuery(query, 'X-Amz-Signature'), when the caller read a presigned URL's query with
   * parsePresignedQuery: given only with the `query` that read gave
   */
  presignedCanonical?: string | undefined;
  /** lowercased request headers; repeated headers as arrays */
  headers: Record<string, HeaderValue>;
  now: Date;
  /** the client's bucket when the Host names it (virtual-host, custom domain): SigV2 signs it */
  bucketInHost?: string;
  /** the SigV4 credential scope's service; default s3 (STS requests are signed for sts) */
  service?: string;
  /**
   * hex SHA-256 of a body the caller already read whole: services other than S3 sign their
   * body's hash without sending x-amz-content-sha256, so the verifier uses this one
   */
  bodySha256?: string;
}

/** v4-post/v2-post: a browser form's fields signed the policy (authenticate/post-policy.ts) */
export type AuthKind = 'v4-header' | 'v4-query' | 'v2-header' | 'v2-query' | 'v4-post' | 'v2-post' | 'anonymous';

export interface Authenticated {
  kind: AuthKind;
  key?: GatewayKey;
  /** x-amz-content-sha256 as declared (hex, UNSIGNED-PAYLOAD, STREAMING-*), if any */
  payloadHash?: string;
  /**
   * A payload hash the verified signature covers but the headers do not carry: a presigned URL's
   * X-Amz-Content-Sha256 query parameter. The body is held to it as to the header.
   */
  signedPayloadHash?: string;
  /** for aws-chunked bodies signed with SigV4: the seed of the chunk-signature chain */
  chunkSigning?: { signingKey: Buffer; datetime: string; scope: string; seedSignature: string };
}
