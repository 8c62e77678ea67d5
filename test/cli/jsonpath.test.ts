/**
 * kubectl's JSONPath dialect. Every expected value below was printed by the real kubectl (v1.32.4):
 *   kubectl create service nodeport web --tcp=80:8080 --tcp=81:9090 --dry-run=client -o jsonpath=T
 * with SERVICE (that command's `-o json`) as the object.
 */
import { describe, expect, it } from 'vitest';
import {
  findResults,
  goSprint,
  parseJsonPath,
  relaxedPath,
  renderJsonPath,
} from '../../cli/format/jsonpath.js';

const SERVICE = JSON.parse(
  '{"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}}, "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}, {"name": "81-9090", "protocol": "TCP", "port": 81, "targetPort": 9090}], "selector": {"app": "web"}, "type": "NodePort"}, "status": {"loadBalancer": {}}}',
);

const KUBECTL: [string, string][] = [
  ['{.spec.ports[*].port}', '80 81'],
  ['{.spec.ports[0]}', '{"name":"80-8080","port":80,"protocol":"TCP","targetPort":8080}'],
  ['{..port}', '80 81'],
  ['{.spec.ports[-1:].name}', '81-9090'],
  ['{$.kind}', 'Service'],
  ['{.spec.ports[?(@.name=="81-9090")].port}', '81'],
  ['{.nope}', ''],
  ['{range .spec.ports[*]}[{.name}]{end}', '[80-8080][81-9090]'],
  ['{.status}', '{"loadBalancer":{}}'],
  ['{.spec.ports[0].port}{"\\t"}x{"\\n"}', '80\tx\n'],
  ['{.spec.ports[0:1].name}', '80-8080'],
  ['{.spec.ports[-1].name}', '81-9090'],
  ['{.spec.selector.*}', 'web'],
  ["{.spec['type']}", 'NodePort'],
  ['{.spec.ports[?(@.name!="x")].port}', '80 81'],
  ['hello {.kind}', 'hello Service'],
  ['{range .spec.ports[*]}{.port}', '8081'],
  ['{.spec.ports[*].nope}', ''],
  [
    '{.spec.ports}',
    '[{"name":"80-8080","port":80,"protocol":"TCP","targetPort":8080},{"name":"81-9090","port":81,"protocol":"TCP","targetPort":9090}]',
  ],
];

describe('jsonpath', () => {
  it.each(KUBECTL)('%s prints what kubectl prints', (template, expected) => {
    expect(renderJsonPath(parseJsonPath(template), SERVICE)).toBe(expected);
  });

  it("an unclosed action is kubectl's parse error", () => {
    expect(() => parseJsonPath('{.spec.ports[0].port')).toThrow(
      'error parsing jsonpath {.spec.ports[0].port, unclosed action',
    );
  });

  it('an index out of range is an error, as in kubectl (missing keys are not)', () => {
    expect(() => renderJsonPath(parseJsonPath('{.spec.ports[5]}'), SERVICE)).toThrow(
      'array index out of bounds: index 5, length 2',
    );
  });

  it('filters compare numbers as numbers, and nested ranges see their own item', () => {
    const t = parseJsonPath('{range .spec.ports[?(@.port>80)]}{.name}:{range .name}{@}{end};{end}');
    expect(renderJsonPath(t, SERVICE)).toBe('81-9090:81-9090;');
  });

  it("custom-columns paths are relaxed as kubectl's RelaxedJSONPathExpression", () => {
    for (const p of ['.metadata.name', 'metadata.name', '{.metadata.name}', '{metadata.name}'])
      expect(findResults(relaxedPath(p), SERVICE)).toEqual(['web']);
    expect(() => relaxedPath('{.a}{.b}')).toThrow(/unexpected path string/);
  });

  it("cells print as Go's fmt.Sprint prints unstructured values", () => {
    expect(goSprint(SERVICE.spec.selector)).toBe('map[app:web]');
    expect(goSprint([1, 'a'])).toBe('[1 a]');
    expect(goSprint(SERVICE.spec.ports[0])).toBe('map[name:80-8080 port:80 protocol:TCP targetPort:8080]');
  });
});
