// Who sent this request: dispatch on how it is signed. The same errors come back whichever
// signature version the client chose.
import type { GatewayKey } from '../config/types.js';
import { authenticateHeaderV4, authenticateQueryV4, type AcceptRegions } from './sigv4.js';
import { authenticateHeaderV2, authenticateQueryV2 } from './sigv2.js';
import type { Authenticated, AuthInput } from './types.js';
import { S3Error } from '../s3/errors.js';

export type { Authenticated, AuthInput } from './types.js';

type Scheme = 'v4-header' | 'v2-header' | 'v4-query' | 'v2-query' | 'anonymous';

/**
 * Which scheme a request is signed with, from where its credentials are. One answer for
 * authenticate() and for the request's view (authorize/view.ts), which moves a presigned URL's
 * x-amz-* parameters into headers only when the credentials are in the query.
 */
export function signedWith(headers: AuthInput['headers'], rawQuery: string): Scheme {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth !== '') {
    if (auth.startsWith('AWS4-HMAC-SHA256 ')) return 'v4-header';
    if (auth.startsWith('AWS ')) return 'v2-header';
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: auth.split(' ')[0] });
  }
  const q = rawQuery;
  if (q.includes('X-Amz-Algorithm=') || q.includes('X-Amz-Signature=') || q.includes('X-Amz-Credential=')) return 'v4-query';
  if (/(^|&)AWSAccessKeyId=/.test(q) || /(^|&)Signature=/.test(q)) return 'v2-query';
  return 'anonymous';
}

export function authenticate(input: AuthInput, keys: Map<string, GatewayKey>, region: string, accept?: AcceptRegions): Authenticated {
  switch (signedWith(input.headers, input.rawQuery)) {
    case 'v4-header': return authenticateHeaderV4(input, keys, region, accept);
    case 'v2-header': return authenticateHeaderV2(input, keys);
    case 'v4-query': return authenticateQueryV4(input, keys, region, accept);
    case 'v2-query': return authenticateQueryV2(input, keys);
    default: return { kind: 'anonymous' };
  }
}
