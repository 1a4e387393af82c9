// tests/console/lib.mjs — what the browser scenarios share: TAP lines, API calls with a token,
// fixtures (IMEIs, China dates, a run's own phone and name prefix), Debian's chromium through
// playwright-core from build/npm, sign-in and screenshots into docs/console/. A scenario imports
// what it uses and ends with process.exit(failures() ? 1 : 0).
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';

export const ROOT = process.env.AS_ROOT || process.cwd();
const require = createRequire(`${ROOT}/build/npm/node_modules/`);
const { chromium } = require('playwright-core');
export const U = process.env.AS_GATEWAY_URL;
export const SHOTS = `${ROOT}/docs/console`;
mkdirSync(SHOTS, { recursive: true });

let failed = 0;
export const ok = (name) => console.log(`ok - ${name}`);
export const notOk = (name, why) => { failed++; console.log(`not ok - ${name}: ${String(why).split('\n')[0]}`); if (process.env.AS_DEBUG) console.log(String(why)); };
export async function check(name, fn) {
  try { const r = await fn(); if (r === false) notOk(name, 'condition false'); else ok(name); } catch (e) { notOk(name, e.message || e); }
}

export function newImei() {
  const body = `35${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) { let d = Number(body[13 - i]); if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; } sum += d; }
  return body + ((10 - (sum % 10)) % 10);
}
export const chinaDay = (offsetDays) => new Date(Date.now() + offsetDays * 864e5 + 8 * 36e5).toISOString().slice(0, 10);
export async function apiAs(token, method, path, body) {
  const r = await fetch(U + path, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
export const rnd = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, '0');
export const phone = `137${rnd(8)}`;
export const surname = `测${rnd(4)}`; // a fresh name prefix: only this run's customer starts with it
export const ticketBody = (name, days) => ({
  customer: { name, phone },
  device: { category: 'phone_host', brand: 'Huaxin', model: 'HX-10', imei: newImei() },
  purchase: { invoice_date: chinaDay(-days), price_cents: 399900, invoice: true, warranty_card: true },
  fault: { code: 'NO_DISPLAY', description: 'screen stays black', listed: true }, request: 'repair',
});
export async function waitState(token, id, states, tries = 240) {
  for (let i = 0; i < tries; i++) {
    const tk = await apiAs(token, 'GET', `/v1/tickets/${id}`);
    if (states.includes(tk.state)) return tk;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ticket ${id} never reached ${states}`);
}

export const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
export const pageErrors = [];
export async function newPage(viewport = { width: 1366, height: 768 }) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000); // the checks wait for behaviour, not for speed
  page.setDefaultNavigationTimeout(60000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
  page.on('dialog', (d) => d.accept());
  return page;
}
export async function signIn(page, who) {
  await page.goto(`${U}/`);
  await page.fill('#f-login', process.env[`AS_${who}_LOGIN`]);
  await page.fill('#f-password', process.env[`AS_${who}_PASSWORD`]);
  await page.click('button[type=submit]');
  await page.waitForSelector('#sign-out');
}
export const shot = (page, name, opts = {}) => page.screenshot({ path: `${SHOTS}/${name}.png`, ...opts });
export const C = process.env.AS_TOKEN_CENTER;
export const A = process.env.AS_TOKEN_ADMIN;
export const F = process.env.AS_TOKEN_FINANCE;
export const CENTER_B = process.env.AS_CENTER_B_CODE || 'SH02';
export const CENTER = process.env.AS_CENTER_CODE || 'SH01';
export const R = process.env.AS_TOKEN_REGION;
export const failures = () => failed;
