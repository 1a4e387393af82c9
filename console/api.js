// api.js — the gateway's JSON API from the browser: the session cookie travels by itself
// (HttpOnly, SameSite=Strict); unsafe methods carry the session's CSRF token in X-CSRF-Token.
// The token lives in sessionStorage (this tab only, gone when the tab closes), never in the URL.

const CSRF_KEY = 'as_csrf';

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.fields = fields || []; // [{field, problem}]
  }
}

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

// Query parameters for list routes: built here, sent by fetch; they never reach the page's URL.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

export async function api(method, path, body, key) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['Content-Type'] = 'application/json';
    const t = sessionStorage.getItem(CSRF_KEY);
    if (t) headers['X-CSRF-Token'] = t;
    headers['Idempotency-Key'] = key || newKey();
  }
  let res;
  // A 429 is the gateway's fair share (decision 25): `too_many_in_flight` (this user's list
  // reads already being answered: the queue screen asks for five at once) is tried again as
  // soon as one is likely answered, `rate_limited` after its Retry-After; both with the same
  // Idempotency-Key, a bounded number of times.
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(path, {
        method, headers, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', String(e.message || e));
    }
    if (res.status !== 429 || attempt >= 20) break;
    const code = ((await res.clone().json().catch(() => null)) || {}).error?.code;
    if (code !== 'too_many_in_flight' && attempt >= 3) break;
    const ms = code === 'too_many_in_flight' ? 100 + 50 * attempt
      : Math.min(Number(res.headers.get('Retry-After')) || 1, 5) * 1000;
    await new Promise((ok) => setTimeout(ok, ms));
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code, e.message || text, e.fields);
  }
  return data;
}

// One key per user action: a double click or a retry of the same form applies once.
export function newKey() {
  return crypto.randomUUID().replace(/-/g, '');
}
