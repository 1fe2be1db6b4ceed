// An answer given before the request's body was read (a refused browser form, a PUT whose
// signature failed) must reach a client that is still sending. Closing at once makes the kernel
// reset the connection while request bytes are unread, and the client sees EPIPE or ECONNRESET
// instead of the S3 error: a browser's fetch() of a refused form never gets its 403. So, as
// nginx's lingering close does, the rest of a small body is read and thrown away first; then the
// answer goes out on a connection still in step with the client, which can be kept. A body too
// large or too slow to wait for is not waited for: the answer closes the connection, as before.
import type { IncomingMessage } from 'node:http';

/** At most this much of a refused body is read to be thrown away (nginx reads for up to 30 s). */
export const LINGER_BYTES = 8 * 1024 * 1024;
export const LINGER_MS = 2000;

/**
 * Calls `then(true)` once the request's body has been read to its end (at once if it was), or
 * `then(false)` when it is not worth waiting for: declared or found larger than LINGER_BYTES,
 * not done within LINGER_MS, a client waiting for `100 Continue` (it has sent no body), or a
 * stream already broken.
 */
export function afterBody(req: IncomingMessage, then: (complete: boolean) => void): void {
  if (req.complete) return then(true);
  const declared = Number(req.headers['content-length'] ?? NaN);
  const waitsForContinue = /^100-continue$/i.test(String(req.headers.expect ?? '').trim());
  if (req.destroyed || req.readableEnded || waitsForContinue || declared > LINGER_BYTES) return then(false);
  let read = 0;
  let settled = false;
  const settle = (complete: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.off('data', onData).off('end', onEnd).off('error', onError);
    if (!complete) req.pause();
    then(complete);
  };
  const onData = (c: Buffer) => {
    read += c.length;
    if (read > LINGER_BYTES) settle(false);
  };
  const onEnd = () => settle(true);
  const onError = () => settle(false);
  const timer = setTimeout(() => settle(false), LINGER_MS);
  // Whatever was reading the body (a form parser, a hash, a small body's collector) has given up
  // on it, and must not act on its end. Node's server keeps no listeners of its own on a request
  // (and drops its 'data' listeners the same way when it discards a body).
  req.unpipe();
  req.removeAllListeners('data').removeAllListeners('end');
  req.on('data', onData).once('end', onEnd).once('error', onError);
  req.resume();
}
