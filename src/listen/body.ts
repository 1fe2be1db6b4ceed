// The request body as it goes upstream. Payload decoding and verification live in payload/;
// this only connects it to the request and counts bytes.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Authenticated } from '../authenticate/index.js';
import { S3Error } from '../s3/errors.js';

export interface InboundBody {
  stream: Readable;
  /** the length to declare upstream, when known */
  length?: number;
  /** outbound header changes: a value sets, null removes */
  headers: Record<string, string | null>;
}

export function inboundBody(
  req: IncomingMessage, headers: Record<string, string | string[] | undefined>, _auth: Authenticated, ctx: { bytesIn: number },
): InboundBody {
  const cl = headers['content-length'];
  req.on('data', (c: Buffer) => {
    ctx.bytesIn += c.length;
  });
  if (typeof cl !== 'string') throw new S3Error('MissingContentLength');
  return { stream: req, length: Number(cl), headers: {} };
}
