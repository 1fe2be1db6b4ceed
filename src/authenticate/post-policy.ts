// Who signed a browser form upload: the form carries its own credentials (SigV4's x-amz-*
// fields, or SigV2's AWSAccessKeyId/signature) and a signature over the base64 policy. The
// policy's contents (expiration, conditions) are authorize/post-policy.ts's; a valid signature
// over it is what makes them the signer's word.
import type { GatewayKey } from '../config/types.js';
import { S3Error } from '../s3/errors.js';
import { ALGORITHM, parseAmzDate, postPolicySignatureV4, signaturesEqual } from '../signing/sigv4.js';
import { postPolicySignatureV2 } from '../signing/sigv2.js';
import type { Authenticated } from './types.js';
import { regionAccepted, type AcceptRegions } from './sigv4.js';

function missing(field: string): S3Error {
  return new S3Error('InvalidArgument', `Bucket POST must contain a field named '${field}'.  If it is specified, please check the order of the fields.`, {
    ArgumentName: field, ArgumentValue: '',
  });
}

function lookupKey(keys: Map<string, GatewayKey>, id: string): GatewayKey {
  const key = keys.get(id);
  if (!key) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: id });
  return key;
}

function mismatch(key: GatewayKey, policy: string, provided: string): S3Error {
  return new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: key.accessKeyId, StringToSign: policy, SignatureProvided: provided });
}

/**
 * The form's signer, or anonymous for a form that carries no credentials at all (which only a
 * bucket open to anonymous writes would take). `fields` has lowercased names.
 */
export function authenticatePost(fields: ReadonlyMap<string, string>, keys: Map<string, GatewayKey>, region: string, accept?: AcceptRegions): Authenticated {
  const v4 = fields.has('x-amz-algorithm') || fields.has('x-amz-credential') || fields.has('x-amz-signature');
  const v2 = !v4 && (fields.has('awsaccesskeyid') || fields.has('signature'));
  if (!v4 && !v2) return { kind: 'anonymous' };
  const policy = fields.get('policy');
  if (!policy) throw missing('policy');
  return v4 ? verifyV4(fields, policy, keys, region, accept) : verifyV2(fields, policy, keys);
}

function verifyV4(fields: ReadonlyMap<string, string>, policy: string, keys: Map<string, GatewayKey>, region: string, accept?: AcceptRegions): Authenticated {
  const algorithm = fields.get('x-amz-algorithm');
  const credential = fields.get('x-amz-credential');
  const date = fields.get('x-amz-date');
  const signature = fields.get('x-amz-signature');
  if (!algorithm) throw missing('x-amz-algorithm');
  if (!credential) throw missing('x-amz-credential');
  if (!date) throw missing('x-amz-date');
  if (!signature) throw missing('x-amz-signature');
  if (algorithm !== ALGORITHM) {
    throw new S3Error('InvalidArgument', 'Only AWS4-HMAC-SHA256 is supported for x-amz-algorithm', { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm });
  }
  // <access key id>/<date>/<region>/s3/aws4_request
  const parts = credential.split('/');
  // (checked just below: fewer than five parts is refused before any is used)
  const [scopeDate, scopeRegion, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (parts.length < 5 || !accessKeyId || terminator !== 'aws4_request' || !/^\d{8}$/.test(scopeDate)) {
    throw new S3Error('InvalidArgument', 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".', {
      ArgumentName: 'x-amz-credential', ArgumentValue: credential,
    });
  }
  if (service !== 's3') throw new S3Error('InvalidArgument', `Error parsing the X-Amz-Credential parameter; incorrect service "${service}". This endpoint belongs to "s3".`, { ArgumentName: 'x-amz-credential', ArgumentValue: credential });
  if (!regionAccepted(scopeRegion, region, accept)) {
    throw new S3Error('InvalidArgument', `Error parsing the X-Amz-Credential parameter; the region '${scopeRegion}' is wrong; expecting '${region}'`, { ArgumentName: 'x-amz-credential', ArgumentValue: credential, Region: region });
  }
  const when = parseAmzDate(date);
  if (!when || date.slice(0, 8) !== scopeDate) {
    throw new S3Error('InvalidArgument', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'" and on the credential\'s date', { ArgumentName: 'x-amz-date', ArgumentValue: date });
  }
  const key = lookupKey(keys, accessKeyId);
  const expected = postPolicySignatureV4(key.secretAccessKey, scopeDate, scopeRegion, 's3', policy);
  if (!signaturesEqual(expected, signature.toLowerCase())) throw mismatch(key, policy, signature);
  return { kind: 'v4-post', key };
}

function verifyV2(fields: ReadonlyMap<string, string>, policy: string, keys: Map<string, GatewayKey>): Authenticated {
  const accessKeyId = fields.get('awsaccesskeyid');
  const signature = fields.get('signature');
  if (!accessKeyId) throw missing('AWSAccessKeyId');
  if (!signature) throw missing('signature');
  const key = lookupKey(keys, accessKeyId);
  if (!signaturesEqual(postPolicySignatureV2(key.secretAccessKey, policy), signature)) throw mismatch(key, policy, signature);
  return { kind: 'v2-post', key };
}
