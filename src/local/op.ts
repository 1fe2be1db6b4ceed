import type { Disk } from './disk.js';
import type { LocalResponse } from './types.js';

/** What an operation gets: the request with its bucket and key already validated. */
export interface OpRequest {
  method: string;
  /** '' for service-level requests */
  bucket: string;
  /** '' for bucket- and service-level requests */
  key: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: NodeJS.ReadableStream;
  anonymous: boolean;
  /** an aws-chunked body's verified trailer checksums, once the body ended (LocalRequest) */
  trailerChecksums?: () => Record<string, string>;
}

export type Operation = (disk: Disk, req: OpRequest) => Promise<LocalResponse>;
