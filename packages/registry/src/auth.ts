/**
 * Registry authentication as Docker does it: the `WWW-Authenticate` challenge of `GET /v2/` (or of
 * any 401) says Basic or Bearer. Basic sends the credentials on every request; Bearer fetches a
 * token from the challenge's realm for the scopes a request needs (anonymously, or with the
 * credentials as Basic auth, or an identity token as an OAuth2 refresh token) and caches it per
 * scope set until it expires. Credentials never appear in errors or logs.
 */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`docker login` against a token server that issued one). */
  identityToken?: string;
  /** A bearer token to send as is. */
  registryToken?: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parse `Bearer realm="https://auth",service="registry",scope="repository:x:pull"` (several challenges allowed). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    const re = /\s*([A-Za-z]+)\s+((?:[a-zA-Z_]+=(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(h)) !== null) {
      if (m[0].trim() === '') break;
      const scheme = m[1]!.toLowerCase();
      if (scheme !== 'basic' && scheme !== 'bearer') continue;
      const params: Record<string, string> = {};
      const pr = /([a-zA-Z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
      let p: RegExpExecArray | null;
      while ((p = pr.exec(m[2] ?? '')) !== null) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      out.push({ scheme, params });
    }
  }
  return out;
}

export function basicAuth(c: Credentials): string | undefined {
  if (!c.username && !c.password) return undefined;
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}

/** "repository:library/busybox:pull" (actions joined with ","). */
export function repositoryScope(path: string, actions: readonly string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Tokens of one registry, per sorted scope set. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  static key(scopes: readonly string[]): string {
    return [...new Set(scopes)].sort().join(' ');
  }

  get(scopes: readonly string[]): string | undefined {
    const t = this.tokens.get(TokenCache.key(scopes));
    if (!t) return undefined;
    if (Date.now() >= t.expires) {
      this.tokens.delete(TokenCache.key(scopes));
      return undefined;
    }
    return t.token;
  }

  set(scopes: readonly string[], token: string, expiresInSeconds: number): void {
    // refresh a little early; the distribution spec's default lifetime is 60 s
    const life = Math.max(10, expiresInSeconds > 0 ? expiresInSeconds : 60) * 1000;
    this.tokens.set(TokenCache.key(scopes), { token, expires: Date.now() + life - 5000 });
  }

  clear(): void {
    this.tokens.clear();
  }
}
