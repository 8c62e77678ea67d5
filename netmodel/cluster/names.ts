/**
 * Name and value formats as the apiserver validates them (k8s.io/apimachinery/pkg/util/validation).
 * Each check returns undefined when valid, or the apiserver-style explanation.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function dns1123Label(v: string): string | undefined {
  if (v.length > 63) return `must be no more than 63 characters (got ${v.length})`;
  if (!DNS1123_LABEL.test(v)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')";
  }
  return undefined;
}

export function dns1123Subdomain(v: string): string | undefined {
  if (v.length > 253) return `must be no more than 253 characters (got ${v.length})`;
  if (!DNS1123_SUBDOMAIN.test(v)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
  }
  return undefined;
}

export function dns1035Label(v: string): string | undefined {
  if (v.length > 63) return `must be no more than 63 characters (got ${v.length})`;
  if (!DNS1035_LABEL.test(v)) {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')";
  }
  return undefined;
}

/** IANA_SVC_NAME: a port name (RFC 6335): at most 15 characters, [a-z0-9-], a letter, no '--', no '-' at either end. */
export function ianaSvcName(v: string): string | undefined {
  if (v.length > 15) return `must be no more than 15 characters (got ${v.length})`;
  if (!/^[-a-z0-9]+$/.test(v))
    return 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)';
  if (v.includes('--')) return 'must not contain consecutive hyphens';
  if (!/[a-z]/.test(v)) return 'must contain at least one letter (a-z)';
  if (v.startsWith('-') || v.endsWith('-')) return 'must not begin or end with a hyphen';
  return undefined;
}

/** A label or annotation key: optional DNS-1123 subdomain prefix + '/' + a qualified name. */
export function qualifiedName(v: string): string | undefined {
  const parts = v.split('/');
  let name = v;
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    if (prefix.length === 0) return 'prefix part must be non-empty';
    const e = dns1123Subdomain(prefix);
    if (e) return `prefix part ${e}`;
    name = n;
  } else if (parts.length > 2) {
    return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return `name part must be no more than 63 characters (got ${name.length})`;
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')";
  }
  return undefined;
}

export function labelValue(v: string): string | undefined {
  if (v.length > 63) return `must be no more than 63 characters (got ${v.length})`;
  if (!LABEL_VALUE.test(v)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}
