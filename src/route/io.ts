// Small helpers for the provider answers the bucket modes read themselves.
import { Readable } from 'node:stream';
import type { UpstreamResponse } from '../forward/forward.js';

/** Reads and discards an answer's body, so the connection can be reused. */
export async function drain(r: UpstreamResponse): Promise<void> {
  r.body.resume();
  await new Promise<void>((resolve) => {
    r.body.once('end', resolve);
    r.body.once('error', () => resolve());
    r.body.once('close', resolve);
  });
}

/** Reads a (small, XML) answer whole and gives back an answer that can still be sent on. */
export async function buffered(r: UpstreamResponse): Promise<{ r: UpstreamResponse; text: string }> {
  if (r.buffer) return { r, text: r.buffer.toString('utf8') };
  const parts: Buffer[] = [];
  for await (const c of r.body) parts.push(c as Buffer);
  const buffer = Buffer.concat(parts);
  return { r: { status: r.status, headers: r.headers, body: Readable.from([buffer]), buffer }, text: buffer.toString('utf8') };
}

/** CopyObject and CompleteMultipartUpload can answer 200 with an <Error> document. */
export function succeeded(status: number, text: string): boolean {
  return status < 300 && !/<Error>/.test(text);
}
