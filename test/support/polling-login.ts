import { Browser, formField } from './login-browser.js';

/**
 * The later client's polling login end to end, as an IDE and a person at a browser do it: start,
 * password form, the confirmation page, Continue, then the IDE's poll. Each step may go to a
 * different replica (`urls`), as behind a load balancer.
 */
export interface PollingLoginUrls {
  start: string;
  /** The public URL the provider redirects the browser to (default: start). */
  public?: string;
  confirm: string;
  poll: string;
}

export async function pollingLogin(
  urls: PollingLoginUrls,
  opts: { state: string; machineCode: string; username: string; password: string; browser?: Browser },
): Promise<{ access_token: string; refresh_token?: string; id_token?: string }> {
  const BASE = '/oidc-auth/api/v1/plugin/login';
  const query = new URLSearchParams({
    state: opts.state,
    machine_code: opts.machineCode,
    plugin_version: '2.0.0',
  }).toString();
  const browser = opts.browser ?? new Browser(urls.start);
  const callback = `${urls.public ?? urls.start}${BASE}/callback`;
  const { res, url } = await browser.follow(await browser.request(`${urls.start}${BASE}?${query}`), callback);
  const form = await res.text();
  const posted = await browser.request(url, {
    form: { csrf: formField(form, 'csrf') ?? '', username: opts.username, password: opts.password },
  });
  const { stoppedAt } = await browser.follow(posted, callback);
  if (!stoppedAt) throw new Error(`the login did not reach the callback (status ${posted.status})`);
  const confirmPage = await (await browser.request(stoppedAt)).text();
  const confirmId = formField(confirmPage, 'confirm_id');
  if (!confirmId) throw new Error(`no confirmation page: ${confirmPage.slice(0, 300)}`);
  const decided = await browser.request(`${urls.confirm}${BASE}/confirm`, {
    form: { confirm_id: confirmId, csrf: formField(confirmPage, 'csrf') ?? '', decision: 'allow' },
  });
  if (decided.status !== 200) throw new Error(`confirmation refused: ${decided.status}`);
  const polled = await fetch(`${urls.poll}${BASE}/token?${query}`);
  const body = (await polled.json()) as {
    success: boolean;
    data: { access_token: string; refresh_token?: string };
  };
  if (!body.success) throw new Error(`poll: ${JSON.stringify(body)}`);
  return body.data;
}
