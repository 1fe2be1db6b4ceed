// A write whose last bytes wait for a decision. A provider commits an upload only once it has
// every byte of the declared length, so holding back the last chunk keeps the upload abandonable:
// until `decide` settles nothing is stored, and a gate that fails (or is destroyed) ends the
// upload short, which the provider discards. Memory: one chunk.
import { Transform, type TransformCallback } from 'node:stream';

export class CommitGate extends Transform {
  private held: Buffer | undefined;

  /** `decide` runs once every byte has arrived; it resolves to let the upload commit, or throws. */
  constructor(private readonly decide: () => Promise<void>) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
  }

  override _flush(cb: TransformCallback): void {
    this.decide().then(() => cb(null, this.held), (e: Error) => cb(e));
  }
}

/** Settles when the decision is known: a gate that can be told yes or no from outside. */
export function decision(): { wait: () => Promise<void>; allow: () => void; refuse: (e: Error) => void } {
  let allow!: () => void;
  let refuse!: (e: Error) => void;
  const p = new Promise<void>((res, rej) => {
    allow = res;
    refuse = rej;
  });
  p.catch(() => {});
  return { wait: () => p, allow, refuse };
}
