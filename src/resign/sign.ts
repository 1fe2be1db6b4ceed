// Signs the outbound request with the provider's credentials, in the signature version the
// provider's profile asks for this operation.
import type { Upstream } from '../config/types.js';
import { signatureFor } from '../config/provider.js';
import { queryString, type OutboundRequest } from './request.js';
import { signRequestV2, type OutboundRequestV2 } from '../signing/sigv2.js';
import { canonicalQueryInOrder, signingKey, signV4 } from '../signing/sigv4.js';
import { SignedChunkEncoder } from './chunked.js';
import { pipeline, type Readable } from 'node:stream';

// Headers proxies and clients change in transit are sent but not signed, as the SDKs do.
const UNSIGNED = new Set(['user-agent', 'x-amzn-trace-id', 'expect', 'connection', 'accept-encoding']);

// `now` for tests and the microbenchmarks; without it the signer reads the clock (no Date per request).
export function signOutbound(up: Upstream, operation: string, req: OutboundRequest, payloadHash: string, now?: Date): Record<string, string> {
  const version = signatureFor(up.profile, operation);
  // The query is encoded once for the signature and the wire when its order is canonical (s3gate's
  // own and the SDKs' mostly are): what is signed is then the very string forward() sends.
  const inOrder = canonicalQueryInOrder(req.query);
  const encodedQuery = (req.encodedQuery = inOrder ?? queryString(req.query));
  if (version === 'v2') {
    // SigV2 does not cover the body; x-amz-content-sha256 is a SigV4 notion some SigV2-only
    // providers choke on, so it is not sent.
    const v2: OutboundRequestV2 = { method: req.method, path: req.path, query: encodedQuery, headers: { ...req.headers, host: req.host } };
    if (req.bucketInHost) v2.bucketInHost = req.bucketInHost;
    return signRequestV2(v2, up.credentials, now ?? new Date());
  }
  // Our own signer over the same pure functions the verifier uses: 4x cheaper per request than
  // @smithy/signature-v4 here (docs/performance.md), and pinned by the same published vectors;
  // the tests check it against smithy's output.
  return signV4({
    method: req.method, host: req.host, path: req.path, query: req.query, headers: req.headers, payloadHash,
    accessKeyId: up.credentials.accessKeyId, secretAccessKey: up.credentials.secretAccessKey, region: up.region, now, canonicalQuery: inOrder,
  }, UNSIGNED);
}

/** The verified body re-framed with s3gate's chunk signatures, seeded by the request's own. */
export function chunkSignedBody(up: Upstream, signedHeaders: Record<string, string>, source: Readable): Readable {
  const auth = signedHeaders['authorization'] ?? '';
  const seed = /Signature=([0-9a-f]{64})/.exec(auth)?.[1];
  const scope = /Credential=[^/]+\/([^,]+)/.exec(auth)?.[1];
  const datetime = signedHeaders['x-amz-date'];
  if (!seed || !scope || !datetime) throw new Error('outbound SigV4 signature missing for chunk signing');
  const [date, region, service] = scope.split('/') as [string, string, string];
  const encoder = new SignedChunkEncoder({
    signingKey: signingKey(up.credentials.secretAccessKey, date, region, service), datetime, scope, seedSignature: seed,
  });
  pipeline(source, encoder, () => {});
  return encoder;
}
