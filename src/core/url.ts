// URLs and hosts the user gives (an S3 endpoint, an alert destination, a database here).

/** This computer's own names, as a host or a URL's hostname. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether a value is an absolute http(s) URL that names a host. */
export function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.length > 0;
  } catch {
    return false;
  }
}
