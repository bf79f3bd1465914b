// URLs as they may be shown (status, errors, logs, msgs): never with a password in them.

/** Query parameters that carry a credential. */
const SECRET_PARAMS = /^(password|pass|pwd|secret|token|key|apikey|api_key|auth|access_token)$/i;

/** A URL with its userinfo password and credential-like query parameters replaced by ***. */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(invalid URL)';
  }
  if (u.password) u.password = '***';
  for (const name of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(name)) u.searchParams.set(name, '***');
  return u.toString().replace(/\/$/, '');
}

/** `text` with every occurrence of `url` replaced by its masked form. */
export function maskUrlIn(text: string, url: string): string {
  return url ? text.split(url).join(maskUrl(url)) : text;
}
