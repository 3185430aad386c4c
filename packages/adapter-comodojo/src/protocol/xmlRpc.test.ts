import { describe, expect, it } from 'vitest';
import { decodeCall, decodeCallSliced, encodeFault, encodeSuccess } from './xmlRpc.js';

describe('xmlRpc', () => {
  it('xmlRpc - decodes CDATA, <params/>, missing params and numeric character references', () => {
    expect(decodeCall('<methodCall><methodName> a.b </methodName><params><param><value><string><![CDATA[<x&>]]> &#x20AC;</string></value></param></params></methodCall>')).toEqual({
      methodName: 'a.b',
      params: ['<x&> €'],
    });
    expect(decodeCall('<methodCall><methodName>a</methodName><params/></methodCall>').params).toEqual([]);
    expect(decodeCall('<methodCall><methodName>a</methodName></methodCall>').params).toEqual([]);
  });

  it('xmlRpc - refuses DTDs (no entity expansion), unknown types and malformed values with -32700', () => {
    const cases = [
      '<!DOCTYPE x [<!ENTITY a "b">]><methodCall><methodName>&a;</methodName></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><i8>1</i8></value></param></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><int>x</int></value></param></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><boolean>yes</boolean></value></param></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value>text<int>1</int></value></param></params></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><int>1</int></value></param></params>',
      '<methodResponse/>',
    ];
    for (const xml of cases) expect(() => decodeCall(xml), xml).toThrow(expect.objectContaining({ code: -32700 }));
    expect(() => decodeCall('  ')).toThrow(expect.objectContaining({ code: -32600 }));
  });

  const call = (value: string, decl = '<?xml version="1.0"?>') => `${decl}<methodCall><methodName>a</methodName><params><param><value>${value}</value></param></params></methodCall>`;

  it('xmlRpc - issue 14.7: a declared ISO-8859-1 is honoured, as the stock daemon does (café, not caf\ufffd)', async () => {
    const bytes = Buffer.from(call('<string>caf\xe9</string>', '<?xml version="1.0" encoding="ISO-8859-1"?>'), 'latin1');
    expect(decodeCall(bytes).params).toEqual(['café']);
    expect((await decodeCallSliced(bytes)).params).toEqual(['café']);
    // Without a declaration the bytes are UTF-8, strictly.
    expect(decodeCall(Buffer.from(call('<string>café</string>'), 'utf8')).params).toEqual(['café']);
  });

  it('xmlRpc - issue 14.7: UTF-16 with a BOM (either order) and UTF-8 with a BOM are accepted', () => {
    const text = call('<string>é€😀</string>', '<?xml version="1.0" encoding="UTF-16"?>');
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le.subarray(2)).swap16();
    expect(decodeCall(le).params).toEqual(['é€😀']);
    expect(decodeCall(Buffer.concat([Buffer.from([0xfe, 0xff]), be])).params).toEqual(['é€😀']);
    expect(decodeCall(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(call('<string>é</string>'))])).params).toEqual(['é']);
  });

  it('xmlRpc - issue 14.7: an undefined entity and invalid UTF-8 are -32700, not literal or replaced text', async () => {
    expect(() => decodeCall(call('<string>&foo;</string>'))).toThrow(expect.objectContaining({ code: -32700, detail: expect.stringContaining('undefined entity &foo;') }));
    expect(() => decodeCall(call('<string>a & b</string>'))).toThrow(expect.objectContaining({ code: -32700 }));
    const invalid = Buffer.concat([Buffer.from(call('<string>').replace(/<\/value>.*$/, '')), Buffer.from([0xc3, 0x28]), Buffer.from('</string></value></param></params></methodCall>')]);
    expect(() => decodeCall(invalid)).toThrow(expect.objectContaining({ code: -32700, detail: expect.stringContaining('not valid utf-8') }));
    await expect(decodeCallSliced(invalid)).rejects.toMatchObject({ code: -32700 });
    // The predefined five and character references still decode.
    expect(decodeCall(call('<string>&lt;&amp;&gt;&quot;&apos;&#233;&#x1F600;</string>')).params).toEqual(['<&>"\'é😀']);
    expect(() => decodeCall(call('<string>&#0;</string>'))).toThrow(expect.objectContaining({ code: -32700 }));
  });

  it('xmlRpc - issue 14.7: arrays nest up to 64 levels (the parser cut at 32 before), 65 is -32700, DTDs stay refused', async () => {
    const nest = (n: number) => '<array><data><value>'.repeat(n) + '<int>1</int>' + '</value></data></array>'.repeat(n);
    let expected: unknown = 1;
    for (let i = 0; i < 64; i++) expected = [expected];
    expect(decodeCall(call(nest(64))).params).toEqual([expected]);
    expect((await decodeCallSliced(call(nest(64)))).params).toEqual([expected]);
    expect(() => decodeCall(call(nest(65)))).toThrow(expect.objectContaining({ code: -32700 }));
    expect(() => decodeCall('<?xml version="1.0"?><!DOCTYPE x><methodCall><methodName>a</methodName></methodCall>')).toThrow(expect.objectContaining({ code: -32700, detail: expect.stringContaining('DTD') }));
  });

  it('xmlRpc - well-formedness: mismatched tags, two roots, text outside elements, a late declaration and a bad tag are -32700', () => {
    const bad = [
      '<methodCall><methodName>a</methodName></methodcall>',
      '<methodCall><methodName>a</methodName></methodCall><methodCall/>',
      '<methodCall><methodName>a</methodName></methodCall>trailing',
      ' <?xml version="1.0"?><methodCall><methodName>a</methodName></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><string>x</string></value></param></params><</methodCall>',
      '<methodCall><methodName>a\u0001</methodName></methodCall>',
      '<methodCall><methodName>a</methodName><params><param><value><string>x</string><int>1</int></value></param></params></methodCall>',
    ];
    for (const xml of bad) expect(() => decodeCall(xml), xml).toThrow(expect.objectContaining({ code: -32700 }));
    // Attributes, comments, processing instructions and whitespace are fine.
    expect(
      decodeCall('<?xml version="1.0"?>\n<!-- c --><methodCall a="1"><methodName>a</methodName>\n <params><param><value><struct><member><name>k</name><value>v</value></member></struct></value></param></params></methodCall>\n').params,
    ).toEqual([{ k: 'v' }]);
  });

  it('xmlRpc - limits nesting depth', () => {
    const deep = '<value><array><data>'.repeat(100) + '</data></array></value>'.repeat(100);
    expect(() => decodeCall(`<methodCall><methodName>a</methodName><params><param>${deep}</param></params></methodCall>`)).toThrow(expect.objectContaining({ code: -32700 }));
  });

  it('xmlRpc - encodes every type with one typed child, escaping text, empty list as <data/>', () => {
    expect(encodeSuccess({ s: 'a<&>"\'', n: null, t: true, i: 3, d: 2.5, l: [], m: {}, u: undefined })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param><value><struct>' +
        '<member><name>s</name><value><string>a&lt;&amp;&gt;&quot;&#039;</string></value></member>' +
        '<member><name>n</name><value><nil/></value></member>' +
        '<member><name>t</name><value><boolean>1</boolean></value></member>' +
        '<member><name>i</name><value><int>3</int></value></member>' +
        '<member><name>d</name><value><double>2.5</double></value></member>' +
        '<member><name>l</name><value><array><data/></array></value></member>' +
        '<member><name>m</name><value><struct></struct></value></member>' +
        '</struct></value></param></params></methodResponse>',
    );
    expect(() => encodeSuccess(NaN)).toThrow(expect.objectContaining({ code: -32500 }));
    expect(encodeFault(-1, 'x')).toContain('<member><name>faultCode</name><value><int>-1</int></value></member><member><name>faultString</name>');
  });
});
