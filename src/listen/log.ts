import { pino, type Logger } from 'pino';

// Log lines are built from named fields only (never a header map, a config object or a URL
// query), which is what keeps secrets and signatures out; test/cli checks the output. pino's
// redaction was measured at 1.4% of CPU per request and protected nothing this code logs.
//
// Lines are written in batches: a synchronous write(2) per line cost 65 µs of CPU per 4 KiB
// request (296 → 212 µs, `node bench/quick.mjs`). Each line is encoded straight into the batch's
// Buffer (0.07–0.1 µs a line), and the batch goes to an async sonic-boom destination every
// FLUSH_MS, or sooner when it is full; at exit, what is gathered is handed over before pino's own
// exit hook writes the destination out synchronously. A hand-over costs about the same whatever
// its size (sonic-boom and libuv's fs.write: 45–60 µs here), and a request that arrives during
// one waits for it: with 16 KiB batches about one request in 60 did, which puts the wait inside
// the p99 at one connection. On the clock alone, at one connection's 2 000–3 000 requests a
// second, it is one in 400–600; BATCH only bounds the batch when lines come faster than that
// (docs/performance.md, "The request's edges"). Gathered as a string instead, the batch was a
// rope that Buffer.from flattened and encoded in 20–35 µs more per 16 KiB.
const FLUSH_MS = 200;
const BATCH = 256 * 1024;
// Linux writes at most this many bytes to a pipe in one piece, never mixed with another writer's.
const PIPE_BUF = 4096;

/**
 * `buf` cut into pieces of at most `max` bytes that each end with a line's newline (a single line
 * longer than `max` is a piece of its own), so that processes sharing one stdout never split
 * each other's lines.
 */
export function linePieces(buf: Buffer, max = PIPE_BUF): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (buf.length - at > max) {
    let end = buf.lastIndexOf(10, at + max - 1) + 1;
    if (end <= at) end = buf.indexOf(10, at) + 1 || buf.length;
    out.push(buf.subarray(at, end));
    at = end;
  }
  if (at < buf.length) out.push(buf.subarray(at));
  return out;
}

/** `shared`: other processes write to the same stdout (workers), so each write is whole lines. */
export function createLogger(level = 'info', destination?: NodeJS.WritableStream, opts: { shared?: boolean } = {}): Logger {
  if (destination) return pino({ level, base: undefined }, destination as pino.DestinationStream);
  // Buffer mode: in text mode sonic-boom measures the whole pending text (Buffer.byteLength) on
  // every write; as buffers it only adds lengths. Shared, sonic-boom merges pieces only up to
  // PIPE_BUF, and writes once per piece.
  const dest = opts.shared
    ? pino.destination({ dest: 1, sync: false, minLength: 0, maxWrite: PIPE_BUF, contentMode: 'buffer' })
    : pino.destination({ dest: 1, sync: false, minLength: 4096, contentMode: 'buffer' });
  // sonic-boom's types leave out `destroyed`, which it sets once ended.
  const ended = () => (dest as unknown as { destroyed: boolean }).destroyed;
  // Made at the first line after a hand-over: an idle gateway holds no batch.
  let batch: Buffer | undefined;
  let used = 0;
  const handOver = () => {
    if (used === 0 || ended()) return;
    // sonic-boom holds the batch until it is written: the next one is a new Buffer.
    const out = batch!.subarray(0, used);
    batch = undefined;
    used = 0;
    if (opts.shared) for (const piece of linePieces(out)) dest.write(piece as unknown as string);
    else dest.write(out as unknown as string);
  };
  const put = (line: string) => {
    // At most 3 bytes of UTF-8 per UTF-16 unit: a line is never cut at the end of a batch.
    const most = line.length * 3;
    if (used + most > BATCH) {
      handOver();
      if (most > BATCH && !ended()) dest.write(Buffer.from(line) as unknown as string);
      // (an ended destination takes nothing more)
      if (used + most > BATCH) return;
    }
    batch ??= Buffer.allocUnsafeSlow(BATCH);
    used += batch.write(line, used, 'utf8');
  };
  const lines = {
    write: put,
    // The access line: encoded straight into the batch, in at most `most` bytes (access-log.ts).
    writeEncoded<T>(most: number, encode: (buf: Buffer, at: number, v: T, n: number) => number, v: T, n: number) {
      if (used + most > BATCH) {
        handOver();
        if (ended()) return;
        if (most > BATCH) {
          const one = Buffer.allocUnsafe(most);
          dest.write(one.subarray(0, encode(one, 0, v, n)) as unknown as string);
          return;
        }
      }
      batch ??= Buffer.allocUnsafeSlow(BATCH);
      used = encode(batch, used, v, n);
    },
  };
  setInterval(() => {
    handOver();
    dest.flush();
  }, FLUSH_MS).unref();
  // Registered after pino.destination's own hooks, so these run after them: at 'exit' the
  // destination is written out synchronously here; at 'beforeExit' pino ends it once drained.
  process.on('beforeExit', handOver);
  process.on('exit', () => {
    handOver();
    if (!ended()) dest.flushSync();
  });
  return pino({ level, base: undefined }, lines);
}
