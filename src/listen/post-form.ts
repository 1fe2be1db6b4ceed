// A browser form upload's body, parsed at the edge with busboy (docs/post-uploads.md gives the
// measurement behind the choice): the fields before the file, read whole and bounded as S3
// bounds them, then the file as a stream. S3 ignores whatever follows the file; so does this.
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type busboyType from 'busboy';
import { S3Error } from '../s3/errors.js';

// Required at the first form upload, not at start: most gateways never see one (docs/performance.md, "idle").
let busboyFn: typeof busboyType | undefined;
const busboy = () => (busboyFn ??= createRequire(import.meta.url)('busboy') as typeof busboyType);

/** S3's bound on the fields that precede the file (MaxPostPreDataLengthExceededError). */
export const MAX_PRE_DATA = 20 * 1024;

export interface FormParts {
  /** the fields before the file, by lowercased name (S3 reads names case-insensitively) */
  fields: Map<string, string>;
  /** the file's bytes, as they arrive */
  file: Readable;
  /** the name the browser gave the file (for ${filename}) */
  filename: string;
  /** settles once the whole body was read: rejects if it was not well-formed after the file */
  done: Promise<void>;
}

const notMultipart = () =>
  new S3Error('PreconditionFailed', undefined, { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' });
const malformed = () => new S3Error('MalformedPOSTRequest');
const noFile = () => new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' });

/**
 * Reads the form up to its file. The promise settles when the file part begins (its stream then
 * carries the bytes), or with S3's error when the form ends without one or is not a form.
 */
export function readForm(req: IncomingMessage, contentType: string | undefined): Promise<FormParts> {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return Promise.reject(notMultipart());
  let bb: busboyType.Busboy;
  try {
    // Browsers send the file's name as raw UTF-8 in the part header; busboy's default is latin1.
    bb = busboy()({ headers: { 'content-type': contentType }, defParamCharset: 'utf8', limits: { fieldSize: MAX_PRE_DATA + 1, fieldNameSize: 1024 } });
  } catch {
    return Promise.reject(notMultipart());
  }
  return new Promise<FormParts>((resolve, reject) => {
    const fields = new Map<string, string>();
    let preData = 0;
    let started = false;
    let file: Readable | undefined;
    let doneResolve!: () => void;
    let doneReject!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      doneResolve = res;
      doneReject = rej;
    });
    done.catch(() => {});
    const fail = (e: Error) => {
      req.unpipe(bb);
      if (!started) reject(e);
      else doneReject(e);
      // The parser is cut off from the socket: the file it was reading ends here, with the error,
      // so nothing downstream waits for bytes that will not come.
      if (file && !file.readableEnded) file.destroy(e);
      bb.removeAllListeners('field');
      bb.removeAllListeners('file');
    };
    bb.on('field', (name, value, info) => {
      if (started) return;
      const n = name.toLowerCase();
      preData += name.length + value.length;
      if (info.valueTruncated || preData > MAX_PRE_DATA) return fail(new S3Error('MaxPostPreDataLengthExceededError'));
      if (n === 'file') {
        // S3 takes text content for `file` too (curl -F file=text, a textarea).
        started = true;
        return resolve({ fields, file: Readable.from([Buffer.from(value, 'utf8')]), filename: '', done });
      }
      if (fields.has(n) && !n.startsWith('x-ignore-')) {
        return fail(new S3Error('InvalidArgument', `POST form field '${name}' appears more than once.`, { ArgumentName: name, ArgumentValue: value }));
      }
      fields.set(n, value);
    });
    bb.on('file', (name, stream, info) => {
      if (started || name.toLowerCase() !== 'file') {
        // Parts after the file are ignored, as S3 ignores them; another file input before it is
        // not the upload either.
        stream.resume();
        return;
      }
      started = true;
      file = stream;
      resolve({ fields, file: stream, filename: info.filename ?? '', done });
    });
    bb.on('error', () => fail(malformed()));
    bb.on('close', () => {
      if (!started) reject(noFile());
      doneResolve();
    });
    req.on('error', (e) => fail(e));
    req.on('close', () => {
      if (!req.complete) fail(new S3Error('IncompleteBody'));
    });
    req.pipe(bb);
  });
}
