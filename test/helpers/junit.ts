import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  textNodeName: 'text',
  // Numeric character references (the escaped line breaks of attributes) are standard XML.
  htmlEntities: true,
  isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
});

/**
 * A JUnit XML document as the tests read it: attributes as plain properties, element text as
 * `text`, and suites, cases and properties always arrays, however many there are.
 */
export function parseJUnit(xml: string): unknown {
  return parser.parse(xml);
}
