/** Loader hook for bench/proxy-js.mjs: the build's native addon loader is replaced by a stand-in. */
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.endsWith('/proxy/native/load.js'))
    return { ...r, url: new URL('./fake-native.mjs', import.meta.url).href };
  return r;
}
