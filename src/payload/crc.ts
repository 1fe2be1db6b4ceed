// Table-driven CRCs for the two algorithms node has no native binding for.
// Slice-by-8: the per-byte table loop of @aws-crypto/crc32c is several times
// slower, and these run on every uploaded byte (measured in docs/hashing.md).

function crc32Tables(poly: number): Uint32Array[] {
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t0[i] = c >>> 0;
  }
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!;
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) t[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    tables.push(t);
  }
  return tables;
}

const [C0, C1, C2, C3, C4, C5, C6, C7] = crc32Tables(0x82f63b78) as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

/** CRC-32C (Castagnoli), reflected; `crc` is the running, already-inverted register. */
export function crc32cUpdate(crc: number, b: Uint8Array): number {
  let c = crc;
  let i = 0;
  const n = b.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    const a = c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    c =
      C7[a & 0xff]! ^ C6[(a >>> 8) & 0xff]! ^ C5[(a >>> 16) & 0xff]! ^ C4[a >>> 24]! ^
      C3[b[i + 4]!]! ^ C2[b[i + 5]!]! ^ C1[b[i + 6]!]! ^ C0[b[i + 7]!]!;
    i += 8;
  }
  while (i < n) c = (c >>> 8) ^ C0[(c ^ b[i++]!) & 0xff]!;
  return c >>> 0;
}

// CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5. JS has no fast 64-bit
// integers (BigInt allocates), so the register is kept as two 32-bit halves
// and each table entry is stored as [hi, lo] pairs in one Uint32Array.
function crc64Tables(): Uint32Array[] {
  const poly = 0x9a6c9329ac4bc9b5n;
  const big: bigint[][] = [];
  const t0: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let j = 0; j < 8; j++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t0.push(c);
  }
  big.push(t0);
  for (let k = 1; k < 8; k++) {
    const prev = big[k - 1]!;
    big.push(prev.map((v) => (v >> 8n) ^ t0[Number(v & 0xffn)]!));
  }
  return big.map((t) => {
    const out = new Uint32Array(512);
    t.forEach((v, i) => {
      out[2 * i] = Number(v >> 32n);
      out[2 * i + 1] = Number(v & 0xffffffffn);
    });
    return out;
  });
}

const [D0, D1, D2, D3, D4, D5, D6, D7] = crc64Tables() as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

/** CRC-64/NVME register as two halves; mutated in place by crc64nvmeUpdate. */
export interface Crc64State {
  hi: number;
  lo: number;
}

export function crc64nvmeUpdate(s: Crc64State, b: Uint8Array): void {
  let hi = s.hi;
  let lo = s.lo;
  let i = 0;
  const n = b.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    const x = lo ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    const y = hi ^ (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24));
    const i0 = (x & 0xff) << 1, i1 = ((x >>> 8) & 0xff) << 1, i2 = ((x >>> 16) & 0xff) << 1, i3 = (x >>> 24) << 1;
    const i4 = (y & 0xff) << 1, i5 = ((y >>> 8) & 0xff) << 1, i6 = ((y >>> 16) & 0xff) << 1, i7 = (y >>> 24) << 1;
    hi = D7[i0]! ^ D6[i1]! ^ D5[i2]! ^ D4[i3]! ^ D3[i4]! ^ D2[i5]! ^ D1[i6]! ^ D0[i7]!;
    lo = D7[i0 + 1]! ^ D6[i1 + 1]! ^ D5[i2 + 1]! ^ D4[i3 + 1]! ^ D3[i4 + 1]! ^ D2[i5 + 1]! ^ D1[i6 + 1]! ^ D0[i7 + 1]!;
    i += 8;
  }
  while (i < n) {
    const idx = ((lo ^ b[i++]!) & 0xff) << 1;
    lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ D0[idx + 1]!;
    hi = (hi >>> 8) ^ D0[idx]!;
  }
  s.hi = hi >>> 0;
  s.lo = lo >>> 0;
}
