/**
 * A minimal cookie-keeping browser over fetch, for driving the login pages the way a real browser
 * does (redirects followed by hand, cookies by path) without Chromium.
 */
export class Browser {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  constructor(
    readonly origin: string,
    private readonly acceptLanguage = 'en',
  ) {}

  private cookieHeader(url: URL): string {
    return [...this.cookies.entries()]
      .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.replace(/\/?$/, '/')))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  private remember(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const pathAttr = attrs.find((a) => a.toLowerCase().startsWith('path='));
      const maxAge = attrs.find((a) => a.toLowerCase().startsWith('max-age='));
      const expires = attrs.find((a) => a.toLowerCase().startsWith('expires='));
      const gone = maxAge?.slice(8) === '0' || (expires && new Date(expires.slice(8)).getTime() < Date.now());
      if (gone || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, path: pathAttr ? pathAttr.slice(5) : url.pathname });
    }
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const target = new URL(url, this.origin);
    const headers: Record<string, string> = { 'accept-language': this.acceptLanguage };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      redirect: 'manual',
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    this.remember(target, res);
    return res;
  }

  /** Follows redirects until a page answers or the next hop leaves for `stopAt`. */
  async follow(res: Response, stopAt: string): Promise<{ res: Response; url: string; stoppedAt?: string }> {
    let current = res;
    let url = res.url;
    for (let hops = 0; hops < 10; hops++) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || !location) return { res: current, url };
      const next = new URL(location, url).href;
      if (next.startsWith(stopAt)) return { res: current, url, stoppedAt: next };
      url = next;
      current = await this.request(next);
    }
    throw new Error('too many redirects');
  }
}

export function formField(html: string, name: string): string | undefined {
  const m = new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return m?.[1]?.replace(/&amp;/g, '&');
}
