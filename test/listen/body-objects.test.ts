// The objects made per request carry no accessor properties of their own. V8 keeps an object
// literal's getter and setter in an AccessorPair that it always allocates in the old generation;
// the pair points at that object's own getter closures, and through them at everything the
// closures captured (the request, its socket state, its body). So each such object kept its whole
// request alive through every scavenge until the next major GC: at 4 KiB PUTs, c=64, 1.3 MiB was
// promoted per scavenge against 38 KiB for GETs, and a PUT cost 13–20% more CPU
// (docs/performance.md). Getters belong on classes, where the pair is shared on the prototype.
// The same goes for a function literal assigned straight to a property (`body.collect = () => ...`):
// V8's parser marks it for the old generation, and the closure held its request the same way
// (1.1 KiB promoted per 4 KiB PUT against 0.1 for a GET, `node bench/alloc.mjs`).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { inboundBody, readSmall, type InboundBody } from '../../src/listen/body.js';
import { inboundPayload } from '../../src/payload/index.js';
import { loadPreset } from '../../src/config/load.js';
import type { Authenticated } from '../../src/authenticate/index.js';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Names of own properties defined by a getter or setter (an AccessorPair per object). */
function ownAccessors(o: object): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(o))
    .filter(([, d]) => d.get !== undefined || d.set !== undefined)
    .map(([k]) => k);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** file:line of every node in src/ that `match` picks, from TypeScript's own parse of each file. */
function nodesInSource(match: (n: ts.Node) => boolean): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (match(n)) found.push(`${path.relative(SRC, file)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

function request(body: Buffer): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.push(body);
  req.push(null);
  req.complete = true;
  return req;
}

describe('per-request body objects', () => {
  const profile = loadPreset('aws')!;
  const auth: Authenticated = { kind: 'v4-header' };
  const data = Buffer.alloc(4096, 7);
  const headers = { 'content-length': String(data.length), 'x-amz-content-sha256': createHash('sha256').update(data).digest('hex') };

  it('the client body, the body read whole and the payload pipeline have no own accessors', async () => {
    const payload = inboundPayload(headers);
    expect(payload.mode).toBe('plain');
    expect(ownAccessors(payload)).toEqual([]);

    const body = inboundBody(request(data), headers, auth, 'PutObject', profile, { bytesIn: 0 });
    expect(ownAccessors(body)).toEqual([]);
    // The stream is still there, made on first use (from the prototype's getter).
    expect(typeof body.stream.pipe).toBe('function');

    const ctx = { bytesIn: 0 };
    const whole = await readSmall(inboundBody(request(data), headers, auth, 'PutObject', profile, ctx));
    expect(whole.buffer?.equals(data)).toBe(true);
    expect(ctx.bytesIn).toBe(data.length);
    expect(ownAccessors(whole)).toEqual([]);
    const replayed: Buffer[] = [];
    for await (const c of whole.stream) replayed.push(c as Buffer);
    expect(Buffer.concat(replayed).equals(data)).toBe(true);
  });

  it('a small body is read whole by a method of its class, not by a closure made for each request', async () => {
    const a = inboundBody(request(data), headers, auth, 'PutObject', profile, { bytesIn: 0 });
    const b = inboundBody(request(data), headers, auth, 'PutObject', profile, { bytesIn: 0 });
    expect(typeof a.collect).toBe('function');
    expect(a.collect).toBe(b.collect);
    const whole = await new Promise<InboundBody>((resolve, reject) => a.collect!({ body: resolve, fail: reject }));
    expect(whole.buffer?.equals(data)).toBe(true);
  });

  it('no function literal in src/ is assigned straight to a property or initialises an instance field', () => {
    const isFunction = (e: ts.Expression): boolean => {
      while (ts.isParenthesizedExpression(e)) e = e.expression;
      return ts.isArrowFunction(e) || ts.isFunctionExpression(e);
    };
    expect(nodesInSource((n) =>
      (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        (ts.isPropertyAccessExpression(n.left) || ts.isElementAccessExpression(n.left)) && isFunction(n.right)) ||
      // An instance field initialised with one is the same assignment, made per object (the
      // forward stage's exchange had one: a PUT promoted 224 against 120 B per request).
      (ts.isPropertyDeclaration(n) && n.initializer !== undefined &&
        !n.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword) && isFunction(n.initializer)))).toEqual([]);
  });

  it('no object literal in src/ defines a getter or setter', () => {
    expect(nodesInSource((n) => (ts.isGetAccessorDeclaration(n) || ts.isSetAccessorDeclaration(n)) && ts.isObjectLiteralExpression(n.parent))).toEqual([]);
  });
});
