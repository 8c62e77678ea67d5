/**
 * OpenAPI as far as kubectl uses it. kubectl apply/create/replace check, through /openapi/v3, whether
 * the server supports the fieldValidation parameter (then they validate on the server instead of
 * downloading schemas); `kubectl explain` needs the schemas themselves, which kpath does not serve.
 */
import { apiVersionOf, GROUPS, RESOURCES } from './resources.js';
import type { Obj } from './status.js';

function docPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

const FIELD_VALIDATION = {
  name: 'fieldValidation',
  in: 'query',
  description:
    'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.',
  schema: { type: 'string', uniqueItems: true },
};

export function openapiV3Index(): Obj {
  const paths: Obj = {};
  for (const gv of [{ group: '', version: 'v1' }, ...GROUPS]) {
    const p = docPath(gv.group, gv.version);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=kpath1` };
  }
  return { paths };
}

export function openapiV3Doc(path: string): Obj | undefined {
  const gv = [{ group: '', version: 'v1' }, ...GROUPS].find((x) => docPath(x.group, x.version) === path);
  if (!gv) return undefined;
  const paths: Obj = {};
  for (const r of RESOURCES.filter((x) => x.group === gv.group && x.version === gv.version)) {
    const base = `/${docPath(r.group, r.version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}`;
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const op = (verb: string) => ({
      tags: [r.group || 'core_v1'],
      operationId: `${verb}${r.kind}`,
      parameters: [FIELD_VALIDATION],
      'x-kubernetes-action': verb,
      'x-kubernetes-group-version-kind': gvk,
      responses: { '200': { description: 'OK' } },
    });
    paths[base] = { post: op('post') };
    paths[`${base}/{name}`] = { put: op('put'), patch: op('patch') };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (kpath)', version: 'v1.32.0-kpath' },
    paths,
    components: { schemas: {} },
    'x-kpath-apiVersion': apiVersionOf(gv),
  };
}

export function openapiV2(): Obj {
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes (kpath)', version: 'v1.32.0-kpath' },
    paths: {},
    definitions: {},
  };
}

export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

/**
 * The same empty v2 document in gnostic's protobuf encoding (openapi_v2.Document: field 1, swagger,
 * a string). Without schemas kubectl skips client-side validation and uses its built-in patch metadata.
 */
export function openapiV2Protobuf(): Buffer {
  const swagger = Buffer.from('2.0');
  return Buffer.concat([Buffer.from([0x0a, swagger.length]), swagger]);
}
