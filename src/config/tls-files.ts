// The PEM files a config names, read and checked while the config is validated: a listener's
// certificate and key (each must parse, and they must be a pair) and an upstream's private CA.
// A mistake there used to pass `s3gate check`, then surface as OpenSSL's bare `key values
// mismatch` when `serve` opened the listener, or when a reload was already half applied (a worker
// had taken the new keys before setSecureContext threw). Checked here, it is refused with the
// field named, at start, by `check`, and by a reload before anything changes.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** A problem with one of the files, for the field that names it. */
export interface TlsProblem {
  field: 'cert' | 'key';
  message: string;
}

/** OpenSSL's reason without its code prefix: `error:0480006C:PEM routines::no start line` → `no start line`. */
const reason = (e: unknown) => (e as Error).message.replace(/^error:[0-9A-F]+:[^:]*::?/, '');

/**
 * The listener's certificate (a chain: the first is the server's) and private key, loaded as the
 * listener will load them. Returns the first problem, or the bytes that were checked, so what
 * serves is exactly what was validated even if the files change afterwards.
 */
export function checkListenerPair(certFile: string, keyFile: string): TlsProblem | { cert: Buffer; key: Buffer } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certFile);
  } catch (e) {
    return { field: 'cert', message: `cannot read ${certFile}: ${(e as NodeJS.ErrnoException).code ?? reason(e)}` };
  }
  try {
    key = readFileSync(keyFile);
  } catch (e) {
    return { field: 'key', message: `cannot read ${keyFile}: ${(e as NodeJS.ErrnoException).code ?? reason(e)}` };
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    return { field: 'cert', message: `${certFile} holds no PEM certificate (${reason(e)})` };
  }
  let pkey;
  try {
    pkey = createPrivateKey(key);
  } catch (e) {
    return { field: 'key', message: `${keyFile} holds no usable PEM private key (${reason(e)})` };
  }
  if (!x509.checkPrivateKey(pkey)) {
    return { field: 'cert', message: `the certificate in ${certFile} does not match the private key in ${keyFile} (they are not a pair)` };
  }
  // What the listener itself does with them (the rest of the chain, key types TLS refuses).
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    return { field: 'cert', message: `${certFile} with ${keyFile}: ${reason(e)}` };
  }
  return { cert, key };
}

/** An upstream's private CA bundle: it must hold a certificate (node:tls ignores a file that holds none). */
export function checkCaBundle(file: string): string | undefined {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (e) {
    return `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? reason(e)}`;
  }
  try {
    new X509Certificate(pem);
  } catch (e) {
    return `${file} holds no PEM certificate (${reason(e)})`;
  }
  return undefined;
}

export const isProblem = (r: TlsProblem | { cert: Buffer; key: Buffer }): r is TlsProblem => 'field' in r;
