import { escapeXml, S3Error, unescapeXml } from '../s3/errors.js';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export type XmlNode = string | number | boolean | undefined | XmlNode[] | { [name: string]: XmlNode };

// Children given as an object render in insertion order; arrays repeat the parent element,
// which is how S3 lists (Contents, CommonPrefixes, Part, ...) look on the wire.
function render(name: string, value: XmlNode): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => render(name, v)).join('');
  if (typeof value === 'object') {
    let inner = '';
    for (const [k, v] of Object.entries(value)) inner += render(k, v);
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function xmlDocument(root: string, body: Record<string, XmlNode>): string {
  let inner = '';
  for (const [k, v] of Object.entries(body)) inner += render(k, v);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NS}">${inner}</${root}>`;
}


// Request bodies S3 accepts (Delete, CompleteMultipartUpload, CreateBucketConfiguration) are
// flat lists of leaf elements; a regex reader covers them without an XML dependency.
export function xmlBlocks(xml: string, element: string): string[] {
  const re = new RegExp(`<${element}(?:\\s[^>]*)?>([\\s\\S]*?)</${element}>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

export function xmlLeaf(xml: string, element: string): string | undefined {
  const re = new RegExp(`<${element}(?:\\s[^>]*)?>([\\s\\S]*?)</${element}>|<${element}\\s*/>`);
  const m = re.exec(xml);
  if (!m) return undefined;
  return unescapeXml(m[1] ?? '');
}

export function requireRoot(xml: string, root: string): void {
  if (!new RegExp(`<${root}[\\s>]`).test(xml)) throw new S3Error('MalformedXML');
}
