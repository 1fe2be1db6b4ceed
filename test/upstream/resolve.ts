import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as UndiciAgent } from 'undici';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

// Virtual-host tests need `<bucket>.s3.upstream.test` to reach 127.0.0.1 without touching
// /etc/hosts; `.test` is reserved (RFC 6761), so answering it locally shadows no real name.
export function isTestName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.test') || hostname.endsWith('.localhost');
}

export function testLookup(hostname: string, options: LookupOptions | number | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  const opts: LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
  if (!isTestName(hostname)) {
    dnsLookup(hostname, opts as LookupOptions & { all: true }, cb as never);
    return;
  }
  if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

/** node:http agent resolving `*.test` to 127.0.0.1. */
export function testHttpAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, lookup: testLookup as never });
}

/** For `new S3Client({ requestHandler: testRequestHandler() })`. */
export function testRequestHandler(): NodeHttpHandler {
  return new NodeHttpHandler({ httpAgent: testHttpAgent() });
}

/** undici dispatcher resolving `*.test` to 127.0.0.1 (for code that forwards with undici). */
export function testUndiciAgent(): UndiciAgent {
  return new UndiciAgent({ connect: { lookup: testLookup as never } });
}
