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
    /** the parts were handed on: from here a failure is told through `done` and the file's stream */
    let handed = false;
    let broken: Error | undefined;
    let file: Readable | undefined;
    let doneResolve!: () => void;
    let doneReject!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      doneResolve = res;
      doneReject = rej;
    });
    done.catch(() => {});
    const fail = (e: Error) => {
      broken ??= e;
      req.unpipe(bb);
      if (!handed) {
        reject(e);
        // Nobody reads the file yet: its end needs no listener but this one.
        file?.on('error', () => {});
      } else doneReject(e);
      // The parser is cut off from the socket: the file it was reading ends here, with the error,
      // so nothing downstream waits for bytes that will not come.
      if (file && !file.readableEnded) file.destroy(e);
      bb.removeAllListeners('field');
      bb.removeAllListeners('file');
    };
    // A field sent with a filename (python-requests' `files=` sends every part so, and ceph's
    // s3-tests post their forms that way) is a field all the same: S3 and RGW read it as one. Its
    // text may still be arriving when the file's part begins, so the file waits for it.
    const pending: Promise<void>[] = [];
    const hand = (parts: FormParts): void => {
      handed = true;
      resolve(parts);
    };
    const begin = (parts: FormParts): void => {
      started = true;
      if (pending.length === 0) return hand(parts);
      // The file's bytes wait in its stream meanwhile; a field that failed has rejected already.
      void Promise.all(pending).then(() => (broken ? undefined : hand(parts)));
    };
    /** `early`: a field whose part began before the file's, whenever its text arrived. */
    const onField = (name: string, value: string, truncated: boolean, early = false): void => {
      if ((started && !early) || broken) return;
      const n = name.toLowerCase();
      preData += name.length + value.length;
      if (truncated || preData > MAX_PRE_DATA) return fail(new S3Error('MaxPostPreDataLengthExceededError'));
      if (n === 'file') {
        // S3 takes text content for `file` too (curl -F file=text, a textarea).
        return begin({ fields, file: Readable.from([Buffer.from(value, 'utf8')]), filename: '', done });
      }
      if (fields.has(n) && !n.startsWith('x-ignore-')) {
        return fail(new S3Error('InvalidArgument', `POST form field '${name}' appears more than once.`, { ArgumentName: name, ArgumentValue: value }));
      }
      fields.set(n, value);
    };
    bb.on('field', (name, value, info) => onField(name, value, info.valueTruncated));
    bb.on('file', (name, stream, info) => {
      if (started) {
        // Parts after the file are ignored, as S3 ignores them.
        stream.resume();
        return;
      }
      if (name.toLowerCase() !== 'file') {
        pending.push(fieldText(stream, () => MAX_PRE_DATA - preData).then(
          (value) => (value === undefined ? fail(new S3Error('MaxPostPreDataLengthExceededError')) : onField(name, value, false, true)),
          (e: Error) => fail(e),
        ));
        return;
      }
      file = stream;
      begin({ fields, file: stream, filename: info.filename ?? '', done });
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

/** A field's text from a part busboy gave as a file, or undefined past `room()` bytes. */
function fieldText(stream: Readable, room: () => number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    stream.on('data', (c: Buffer) => {
      n += c.length;
      if (n > room()) {
        stream.removeAllListeners('data');
        stream.resume();
        return resolve(undefined);
      }
      parts.push(c);
    });
    stream.on('end', () => resolve(n > room() ? undefined : Buffer.concat(parts).toString('utf8')));
    stream.on('error', reject);
  });
}
