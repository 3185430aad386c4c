import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isPlainObject, RpcError } from './registry.js';

/**
 * XML-RPC decoding and encoding (protocols/comodojo.md §3) on fast-xml-parser. DTDs are refused
 * outright (XML-RPC never needs one, and that rules out entity-expansion bombs); only the
 * predefined entities and numeric character references are decoded.
 */

type Node = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  trimValues: false,
  parseTagValue: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // An empty named-entity table: numeric references on, no HTML names, and tight limits anyway.
  htmlEntities: {} as unknown as boolean,
  processEntities: { enabled: true, maxEntityCount: 1, maxEntitySize: 1, maxTotalExpansions: Number.MAX_SAFE_INTEGER, maxExpandedLength: Number.MAX_SAFE_INTEGER },
});

/** A decoded `methodCall`. */
export interface XmlCall {
  methodName: string;
  params: unknown[];
}

const DOCTYPE = /<!DOCTYPE/i;

/** Decodes a `methodCall` document. Throws -32600 for an empty payload, -32700 for anything malformed (§3.1). */
export function decodeCall(xml: string): XmlCall {
  if (xml.trim() === '') throw RpcError.of('invalidRequest');
  if (DOCTYPE.test(xml)) throw RpcError.of('parse', 'XML with a DTD (refused: no entity expansion)');
  if (XMLValidator.validate(xml) !== true) throw RpcError.of('parse', 'payload is not well-formed XML');
  let doc: Node[];
  try {
    doc = parser.parse(xml) as Node[];
  } catch {
    throw RpcError.of('parse');
  }
  const root = elements(doc);
  const call = root.length === 1 && root[0]?.name === 'methodCall' ? elements(root[0].children) : undefined;
  if (!call) throw RpcError.of('parse', 'no methodCall element');
  const nameNode = call.find((e) => e.name === 'methodName');
  const methodName = nameNode ? text(nameNode.children).trim() : '';
  if (methodName === '') throw RpcError.of('parse', 'no methodName');
  const paramsNode = call.find((e) => e.name === 'params');
  const params = paramsNode
    ? elements(paramsNode.children).map((param) => {
        if (param.name !== 'param') throw RpcError.of('parse');
        const values = elements(param.children);
        if (values.length !== 1 || values[0]?.name !== 'value') throw RpcError.of('parse');
        return decodeValue(values[0].children, 0);
      })
    : [];
  return { methodName, params };
}

interface Element {
  name: string;
  children: Node[];
}

/** Element children of a preserveOrder node list, skipping whitespace text and comments. */
function elements(nodes: Node[]): Element[] {
  const out: Element[] = [];
  for (const node of nodes) {
    for (const key of Object.keys(node)) {
      if (key === '#text') {
        if (String(node[key]).trim() !== '') throw RpcError.of('parse');
      } else if (key !== ':@') out.push({ name: key, children: node[key] as Node[] });
    }
  }
  return out;
}

/** The concatenated text (CDATA included) of a leaf element. */
function text(nodes: Node[]): string {
  let out = '';
  for (const node of nodes) {
    for (const key of Object.keys(node)) {
      if (key === '#text') out += String(node[key]);
      else if (key !== ':@') throw RpcError.of('parse');
    }
  }
  return out;
}

const MAX_DEPTH = 64;

function decodeValue(children: Node[], depth: number): unknown {
  if (depth > MAX_DEPTH) throw RpcError.of('parse');
  // XML-RPC spec: a bare <value>text</value> is a string (§3.1 "SHOULD also accept").
  if (!children.some((n) => Object.keys(n).some((k) => k !== '#text' && k !== ':@'))) return text(children);
  const typed = elements(children);
  if (typed.length !== 1) throw RpcError.of('parse');
  const { name, children: inner } = typed[0] as Element;
  switch (name) {
    case 'string':
      return text(inner);
    case 'int':
    case 'i4': {
      const t = text(inner).trim();
      if (!/^[-+]?\d+$/.test(t)) throw RpcError.of('parse');
      return Number(t);
    }
    case 'double': {
      const n = Number(text(inner).trim());
      if (!Number.isFinite(n) || text(inner).trim() === '') throw RpcError.of('parse');
      return n;
    }
    case 'boolean': {
      const t = text(inner).trim().toLowerCase();
      if (t === '1' || t === 'true') return true;
      if (t === '0' || t === 'false') return false;
      throw RpcError.of('parse');
    }
    case 'base64':
      return Buffer.from(text(inner).replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'dateTime.iso8601':
      return text(inner).trim();
    case 'nil':
    case 'ex:nil':
      return null;
    case 'array': {
      const data = elements(inner);
      if (data.length !== 1 || data[0]?.name !== 'data') throw RpcError.of('parse');
      return elements(data[0].children).map((v) => {
        if (v.name !== 'value') throw RpcError.of('parse');
        return decodeValue(v.children, depth + 1);
      });
    }
    case 'struct': {
      const out = Object.create(null) as Record<string, unknown>;
      for (const member of elements(inner)) {
        if (member.name !== 'member') throw RpcError.of('parse');
        const parts = elements(member.children);
        const nameEl = parts.find((p) => p.name === 'name');
        const valueEl = parts.find((p) => p.name === 'value');
        if (!nameEl || !valueEl || parts.length !== 2) throw RpcError.of('parse');
        out[text(nameEl.children)] = decodeValue(valueEl.children, depth + 1);
      }
      return out;
    }
    default:
      throw RpcError.of('parse');
  }
}

/** Escapes text for element content. */
function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#039;'));
}

/**
 * Encodes a value so every `<value>` has exactly one typed child (§3.2): strings always in
 * `<string>`, null as `<nil/>`, booleans 1/0, integers `<int>`, other numbers `<double>`.
 */
export function encodeValue(value: unknown): string {
  if (value === null || value === undefined) return '<value><nil/></value>';
  switch (typeof value) {
    case 'string':
      return `<value><string>${escape(value)}</string></value>`;
    case 'boolean':
      return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
    case 'number':
      if (!Number.isFinite(value)) throw RpcError.of('application');
      return Number.isInteger(value) ? `<value><int>${value}</int></value>` : `<value><double>${value}</double></value>`;
    case 'object': {
      if (Array.isArray(value)) {
        return value.length === 0 ? '<value><array><data/></array></value>' : `<value><array><data>${value.map(encodeValue).join('')}</data></array></value>`;
      }
      if (!isPlainObject(value)) throw RpcError.of('application');
      let members = '';
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue;
        members += `<member><name>${escape(k)}</name>${encodeValue(v)}</member>`;
      }
      return `<value><struct>${members}</struct></value>`;
    }
    default:
      // -32500: "the XML encoder could not encode a result" (§5).
      throw RpcError.of('application');
  }
}

/** A successful `methodResponse` (§3.2). Throws -32500 if the result cannot be encoded. */
export function encodeSuccess(result: unknown): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param>${encodeValue(result)}</param></params></methodResponse>`;
}

/** A fault `methodResponse` with `faultCode` then `faultString` (§3.2). */
export function encodeFault(code: number, message: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?><methodResponse><fault><value><struct>' +
    `<member><name>faultCode</name><value><int>${code}</int></value></member>` +
    `<member><name>faultString</name><value><string>${escape(message)}</string></value></member>` +
    '</struct></value></fault></methodResponse>'
  );
}
