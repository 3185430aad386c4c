import { isPlainObject, RpcError } from './registry.js';

/**
 * XML-RPC encoding (protocols/comodojo.md §3.2); decoding lives in xmlDecode.ts (a streaming
 * decoder that matches the stock daemon's expat on encodings, entities and nesting).
 */
export { decodeCall, decodeCallSliced, MAX_DEPTH, SLICE_MS, type XmlCall } from './xmlDecode.js';

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
