import { describe, expect, it } from 'vitest';
import { decodeCall, encodeFault, encodeSuccess } from './xmlRpc.js';

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
