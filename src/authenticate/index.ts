// Who sent this request: dispatch on how it is signed. The same errors come back whichever
// signature version the client chose.
import type { GatewayKey } from '../config/types.js';
import { authenticateHeaderV4, authenticateQueryV4 } from './sigv4.js';
import { authenticateHeaderV2, authenticateQueryV2 } from './sigv2.js';
import type { Authenticated, AuthInput } from './types.js';
import { S3Error } from '../s3/errors.js';

export type { Authenticated, AuthInput } from './types.js';

export function authenticate(input: AuthInput, keys: Map<string, GatewayKey>, region: string): Authenticated {
  const auth = input.headers.authorization;
  if (typeof auth === 'string' && auth !== '') {
    if (auth.startsWith('AWS4-HMAC-SHA256 ')) return authenticateHeaderV4(input, keys, region);
    if (auth.startsWith('AWS ')) return authenticateHeaderV2(input, keys);
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: auth.split(' ')[0] });
  }
  const q = input.rawQuery;
  if (q.includes('X-Amz-Algorithm=') || q.includes('X-Amz-Signature=') || q.includes('X-Amz-Credential=')) {
    return authenticateQueryV4(input, keys, region);
  }
  if (/(^|&)AWSAccessKeyId=/.test(q) || /(^|&)Signature=/.test(q)) return authenticateQueryV2(input, keys);
  return { kind: 'anonymous' };
}
