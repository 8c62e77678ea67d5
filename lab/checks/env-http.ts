/**
 * `kind: env-http`: the request an application makes to the URL its configuration gives it: the
 * value of an environment variable of the sending pod (as the manifests set it), then exactly what
 * `kind: http` does with a URL (real requests, resolved through kube-dns with the pod's resolver).
 * For labs where what the learner fixes is the application's configuration.
 *
 *   - name: checkout gets an answer from PAYMENTS_URL
 *     kind: env-http
 *     from: pod/shop/checkout
 *     env: PAYMENTS_URL       # the variable holding an http:// URL
 *     count: 2                # and every other field of kind http
 *     expect: {status: 200}
 */
import { envValue } from './dns-lookup.js';
import { type HttpObserved, type HttpSpec, judgeHttp, observeHttp, parseHttp } from './http.js';
import { type CheckEnv, type CheckKind, fieldError, reqString, type Verdict } from './types.js';

export interface EnvHttpSpec {
  readonly env: string;
  /** The http spec with a placeholder URL; the pod's value replaces it at run time. */
  readonly http: HttpSpec;
}

export interface EnvHttpObserved {
  readonly url?: string;
  readonly error?: string;
  readonly http?: HttpObserved;
}

function parse(raw: Readonly<Record<string, unknown>>, where: string): EnvHttpSpec {
  const env = reqString(raw, 'env', where);
  if ('url' in raw) throw fieldError(where, 'url', `not with env: the URL is the value of ${env}`);
  const { env: _env, ...rest } = raw;
  const http = parseHttp({ ...rest, url: 'http://placeholder/' }, where);
  if (!http.from.startsWith('pod/'))
    throw fieldError(where, 'from', 'pod/NAMESPACE/NAME (whose environment holds the URL)');
  return { env, http };
}

async function observe(env: CheckEnv, spec: EnvHttpSpec): Promise<EnvHttpObserved> {
  const [, ns, name] = spec.http.from.split('/') as [string, string, string];
  const pod = env.snap.pod(ns, name);
  if (!pod) return { error: `pod ${ns}/${name} does not exist` };
  const url = envValue(pod, spec.env);
  if (url === undefined) return { error: `pod ${ns}/${name} has no environment variable ${spec.env}` };
  if (!/^http:\/\/[^/]+/.test(url)) return { url, error: `${spec.env}=${url} is not an http:// URL` };
  return { url, http: await observeHttp(env, { ...spec.http, url }) };
}

function judge(spec: EnvHttpSpec, o: EnvHttpObserved): Verdict {
  if (o.error || !o.http || !o.url) return { passed: false, detail: o.error ?? 'no request was made' };
  const v = judgeHttp({ ...spec.http, url: o.url }, o.http);
  return { passed: v.passed, detail: `${spec.env}=${o.url}: ${v.detail}` };
}

export const envHttp: CheckKind<EnvHttpSpec, EnvHttpObserved> = { parse, observe, judge };
