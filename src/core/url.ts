// URLs the user pastes (an S3 endpoint, an alert destination).

/** Whether a value is an absolute http(s) URL that names a host. */
export function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.length > 0;
  } catch {
    return false;
  }
}
