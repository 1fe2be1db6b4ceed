// S3 answers an upload id it does not know (aborted, completed, never made) with 404 NoSuchUpload
// on every operation of the upload. RGW 16 answers ListParts 404 NoSuchKey, and
// CompleteMultipartUpload 500 InternalError, which SDKs retry as a fault of the server before
// failing with it. s3gate names the upload as S3 does; a 500 only once the provider's own
// ListParts says the upload is gone, so a real fault of the provider is still passed on.
import type { Upstream } from '../config/types.js';
import { callUpstream } from '../forward/client.js';
import { escapeXml, s3Message } from '../s3/errors.js';
import { drain } from './io.js';

const CODE = /<Code>([^<]*)<\/Code>/;

/** The provider's error document as S3's NoSuchUpload for `uploadId`. */
export function noSuchUpload(xml: string, uploadId: string): string {
  const message = `<Message>${escapeXml(s3Message('NoSuchUpload')!)}</Message>`;
  let out = xml.replace(CODE, '<Code>NoSuchUpload</Code>').replace(/<Message\s*\/>|<Message>[^<]*<\/Message>/, message);
  if (!out.includes('<Message>')) out = out.replace('<Code>NoSuchUpload</Code>', `<Code>NoSuchUpload</Code>${message}`);
  if (!out.includes('<UploadId>')) out = out.replace('</Error>', `<UploadId>${escapeXml(uploadId)}</UploadId></Error>`);
  return out;
}

/** Whether the provider's ListParts says the upload is gone (404), asked for one part. */
async function uploadGone(up: Upstream, bucket: string, key: string, uploadId: string): Promise<boolean> {
  const r = await callUpstream(up, { operation: 'ListParts', method: 'GET', bucket, key, query: [['max-parts', '1'], ['uploadId', uploadId]] });
  await drain(r);
  return r.status === 404;
}

/**
 * An error answer to an operation of an upload, as S3 gives it when the upload is gone: the status
 * and document to send instead, or undefined to pass the provider's on.
 */
export async function asNoSuchUpload(
  op: string, status: number, xml: string, up: Upstream, bucket: string, key: string, uploadId: string,
): Promise<{ status: number; xml: string } | undefined> {
  const code = CODE.exec(xml)?.[1];
  if (op === 'ListParts' && status === 404 && code === 'NoSuchKey') return { status: 404, xml: noSuchUpload(xml, uploadId) };
  if (op === 'CompleteMultipartUpload' && status === 500 && code === 'InternalError' && await uploadGone(up, bucket, key, uploadId)) {
    return { status: 404, xml: noSuchUpload(xml, uploadId) };
  }
  return undefined;
}
