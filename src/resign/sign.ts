// Signs the outbound request with the provider's credentials, in the signature version the
// provider's profile asks for this operation.
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { Upstream } from '../config/types.js';
import { signatureFor } from '../config/provider.js';
import { queryString, type OutboundRequest } from './request.js';
import { signRequestV2 } from '../signing/sigv2.js';
import { signingKey } from '../signing/sigv4.js';
import { SignedChunkEncoder } from './chunked.js';
import { pipeline, type Readable } from 'node:stream';

const signers = new WeakMap<Upstream, SignatureV4>();

function v4Signer(up: Upstream): SignatureV4 {
  let s = signers.get(up);
  if (!s) {
    s = new SignatureV4({
      credentials: up.credentials,
      region: up.region,
      service: 's3',
      sha256: Sha256,
      // The path is already encoded once, as S3 wants; smithy must not encode it again.
      uriEscapePath: false,
      applyChecksum: false,
    });
    signers.set(up, s);
  }
  return s;
}

export async function signOutbound(up: Upstream, operation: string, req: OutboundRequest, payloadHash: string, now = new Date()): Promise<Record<string, string>> {
  const version = signatureFor(up.profile, operation);
  if (version === 'v2') {
    // SigV2 does not cover the body; x-amz-content-sha256 is a SigV4 notion some SigV2-only
    // providers choke on, so it is not sent.
    return signRequestV2(
      { method: req.method, path: req.path, query: queryString(req.query), headers: { ...req.headers, host: req.host }, ...(req.bucketInHost ? { bucketInHost: req.bucketInHost } : {}) },
      up.credentials, now,
    );
  }
  const url = new URL(req.origin);
  const query: Record<string, string | string[]> = {};
  for (const [n, v] of req.query) {
    const prev = query[n];
    query[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signed = await v4Signer(up).sign(
    {
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: req.path,
      query,
      headers: { ...req.headers, host: req.host, 'x-amz-content-sha256': payloadHash },
    },
    { signingDate: now },
  );
  return signed.headers as Record<string, string>;
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
