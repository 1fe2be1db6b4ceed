import type { GatewayKey } from '../../src/config/types.js';
import type { AuthInput } from '../../src/authenticate/index.js';
import { S3Error } from '../../src/s3/errors.js';

export function keyMap(...keys: [string, string][]): Map<string, GatewayKey> {
  return new Map(keys.map(([id, secret]) => [id, { accessKeyId: id, secretAccessKey: secret, allow: [{ bucket: '*', actions: ['read', 'write', 'list', 'delete'] }] }]));
}

/** Runs fn and returns the S3Error it throws (fails the test if it returns or throws anything else). */
export function s3ErrorOf(fn: () => unknown): S3Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
  throw new Error('expected an S3Error, but the call succeeded');
}

export function withHeaders(input: AuthInput, headers: AuthInput['headers']): AuthInput {
  return { ...input, headers: { ...input.headers, ...headers } };
}
