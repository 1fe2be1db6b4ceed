// STS's Query API answers: result documents and the ErrorResponse document the SDKs parse.
import { escapeXml } from '../s3/errors.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export class StsError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400, readonly type: 'Sender' | 'Receiver' = 'Sender') {
    super(message);
    this.name = 'StsError';
  }
}

export function errorResponse(e: StsError, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${NS}"><Error><Type>${e.type}</Type><Code>${escapeXml(e.code)}</Code>` +
    `<Message>${escapeXml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

type Tree = { [element: string]: string | number | Tree | undefined };

function render(t: Tree): string {
  let out = '';
  for (const [k, v] of Object.entries(t)) {
    if (v === undefined) continue;
    out += `<${k}>${typeof v === 'object' ? render(v) : escapeXml(String(v))}</${k}>`;
  }
  return out;
}

/** `<{action}Response><{action}Result>…</…><ResponseMetadata>…` as STS writes it. */
export function resultResponse(action: string, result: Tree, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><${action}Result>${render(result)}</${action}Result>` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}
