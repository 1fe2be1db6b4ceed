// A request's canceller against the plain list of listeners it stands for: the same listeners
// run, once, in the order they were added, whatever was added and removed before the abort.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RequestCancel } from '../../src/forward/cancel.js';

type Op = { op: 'add'; l: number } | { op: 'remove'; l: number } | { op: 'abort' };

describe('RequestCancel', () => {
  it('calls what a list with push, indexOf/splice and one abort would call, in that order', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('add' as const), l: fc.nat(4) }),
      fc.record({ op: fc.constant('remove' as const), l: fc.nat(4) }),
      fc.constant({ op: 'abort' as const }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const called: number[] = [];
      const expected: number[] = [];
      const fns = [0, 1, 2, 3, 4].map((i) => () => called.push(i));
      const c = new RequestCancel();
      let list: number[] = [];
      let aborted = false;
      for (const o of ops) {
        if (o.op === 'add') {
          c.addEventListener('abort', fns[o.l]!);
          if (!aborted) list.push(o.l);
        } else if (o.op === 'remove') {
          c.removeEventListener('abort', fns[o.l]!);
          const i = list.indexOf(o.l);
          if (i >= 0) list.splice(i, 1);
        } else {
          c.abort();
          if (!aborted) {
            aborted = true;
            expected.push(...list);
            list = [];
          }
        }
        expect(c.aborted).toBe(aborted);
        expect(called).toEqual(expected);
      }
    }), { numRuns: 2000 });
  });

  it('keeps the first reason', () => {
    const c = new RequestCancel();
    const first = new Error('first');
    c.abort(first);
    c.abort(new Error('second'));
    expect(c.reason).toBe(first);
  });
});
