// The `local` upstream: a directory served as S3 buckets. This file only validates the names,
// asks the router which operation a request is, applies the canned-ACL decision for anonymous
// requests, and runs the operation; each operation lives in its own module under ops/, and
// everything that touches the disk in disk.ts.
import { S3Error } from '../s3/errors.js';
import { anonymousAllowed } from './acl.js';
import { Disk } from './disk.js';
import { validateBucket, validateKey } from './keys.js';
import type { OpRequest } from './op.js';
import { route, type Level, type Route } from './router.js';
import type { LocalRequest, LocalResponse } from './types.js';

export type { LocalRequest, LocalResponse } from './types.js';

export class LocalStore {
  readonly root: string;
  private readonly disk: Disk;

  constructor(root: string) {
    this.root = root;
    this.disk = new Disk(root);
  }

  async handle(req: LocalRequest): Promise<LocalResponse> {
    const level: Level = req.bucket === undefined || req.bucket === '' ? 'service' : req.key === undefined || req.key === '' ? 'bucket' : 'object';
    const bucket = level === 'service' ? '' : validateBucket(req.bucket!);
    const key = level === 'object' ? validateKey(req.key) : '';
    const r = route(req.method, level, req.query, req.headers);
    if (level === 'object') {
      refuseEncryption(req.headers);
      // Versioning is never enabled here, so "null" is the only version there is.
      const v = req.query.get('versionId');
      if (v !== null && v !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: v });
    }
    const op: OpRequest = { method: req.method.toUpperCase(), bucket, key, query: req.query, headers: req.headers, body: req.body, anonymous: req.anonymous === true };
    if (req.trailerChecksums) op.trailerChecksums = req.trailerChecksums;
    if (op.anonymous) await this.authorizeAnonymous(r, op);
    return r.op(this.disk, op);
  }

  /** S3's decision for an unsigned request, by the bucket's and the object's canned ACLs. */
  private async authorizeAnonymous(r: Route, req: OpRequest): Promise<void> {
    if (r.anonymous !== 'never') {
      await this.disk.requireBucket(req.bucket);
      if (r.anonymous === 'read-object') {
        const meta = await this.disk.findMeta(req.bucket, req.key);
        if (anonymousAllowed('read-object', { object: meta?.acl })) return;
        // A key that is not there: 404 NoSuchKey to whoever may list the bucket, as S3 answers,
        // since the listing would tell them as much; 403 to anyone else.
        if (!meta && anonymousAllowed('list-bucket', { bucket: (await this.disk.bucketMeta(req.bucket)).acl })) return;
      } else if (anonymousAllowed(r.anonymous, { bucket: (await this.disk.bucketMeta(req.bucket)).acl })) return;
    }
    throw new S3Error('AccessDenied');
  }
}

/**
 * The store writes plain files. An object the client asked to have encrypted under its own key
 * (SSE-C) or a KMS key would be kept as it came and read back without the key, so such a request
 * is refused, as S3 refuses what it cannot honour, and nothing is written. SSE-S3 (`AES256`),
 * which asks nothing of the reader, is taken as before.
 */
function refuseEncryption(headers: Record<string, string>): void {
  for (const n in headers) {
    if (n.startsWith('x-amz-server-side-encryption-customer-') || n.startsWith('x-amz-copy-source-server-side-encryption-customer-')) {
      throw new S3Error('NotImplemented', 'The local store does not keep objects encrypted with a customer-provided key (SSE-C).');
    }
  }
  const sse = headers['x-amz-server-side-encryption'];
  if (sse === undefined && headers['x-amz-server-side-encryption-aws-kms-key-id'] !== undefined) {
    // S3's answer to a KMS key named without asking for KMS encryption.
    throw new S3Error('InvalidArgument', 'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', {
      ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: 'null',
    });
  }
  if (sse !== undefined && sse !== 'AES256') {
    // A method S3 does not know is S3's 400; one it knows (aws:kms, aws:kms:dsse) is what the store does not do.
    if (sse !== 'aws:kms' && sse !== 'aws:kms:dsse') {
      throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: sse });
    }
    throw new S3Error('NotImplemented', `The local store does not encrypt objects with ${sse}.`);
  }
}
