// tests/status/page.mjs — the customer's status page (/status/) in a real browser: Debian's
// chromium driven by playwright-core (from build/npm, as the console's browser tests) against
// the test stack's gateway. Prints TAP lines for tests/run.sh and saves screenshots into
// docs/console/ (status-*.png).
//
// A desk opens a paid repair and diagnoses it with an estimate (through the API); the customer,
// on a phone-sized screen, types the ticket number and a wrong last four (refused in words),
// then the right ones, sees the state and the estimate, switches to English, accepts, and sees
// the repair under way; the ticket's timeline names the customer via the status page.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';

const ROOT = process.env.AS_ROOT || process.cwd();
const require = createRequire(`${ROOT}/build/npm/node_modules/`);
const { chromium } = require('playwright-core');
const U = process.env.AS_GATEWAY_URL;
const SHOTS = `${ROOT}/docs/console`;
mkdirSync(SHOTS, { recursive: true });

let failed = 0;
const ok = (name) => console.log(`ok - ${name}`);
const notOk = (name, why) => { failed++; console.log(`not ok - ${name}: ${String(why).split('\n')[0]}`); };
async function check(name, fn) {
  try { const r = await fn(); if (r === false) notOk(name, 'condition false'); else ok(name); } catch (e) { notOk(name, e.message || e); }
}

function newImei() {
  const body = `35${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) { let d = Number(body[13 - i]); if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; } sum += d; }
  return body + ((10 - (sum % 10)) % 10);
}
const daysAgo = (n) => new Date(Date.now() - n * 864e5 + 8 * 36e5).toISOString().slice(0, 10); // China date
async function api(method, path, body) {
  const r = await fetch(U + path, { method,
    headers: { Authorization: `Bearer ${process.env.AS_TOKEN_CENTER}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

const phone = `137${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
const last4 = phone.slice(-4);
const wrong = String((Number(last4) + 1) % 10000).padStart(4, '0');
const name = '赵敏';

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const pageErrors = [];
try {
  const imei = newImei();
  const t = await api('POST', '/v1/tickets', {
    customer: { name, phone },
    device: { category: 'phone_host', brand: 'Huaxin', model: 'HX-10', imei, imei_label: imei },
    purchase: { invoice_date: daysAgo(100), price_cents: 399900, invoice: true, warranty_card: true },
    fault: { code: 'NO_POWER', description: 'will not power on', listed: true }, flags: { misuse: true },
    request: 'repair',
  });
  for (let i = 0; i < 100; i++) { // warranty decides within a second or so
    const g = await api('GET', `/v1/tickets/${t.id}`);
    if (g.state !== 'received') break;
    await sleep(100);
  }
  await api('POST', `/v1/tickets/${t.id}/diagnosis`, {
    fault_code: 'LIQUID', labour_code: 'L-BOARD', estimate_cents: 58000, note: '内部备注：主板进水',
    parts: [{ sku: 'HX10-SCREEN', qty: 1 }],
  });

  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai', isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  page.setDefaultNavigationTimeout(60000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
  page.on('dialog', (d) => d.accept());

  await page.goto(`${U}/status/`);
  await check('the status page is served at /status/ in Chinese by default', async () => {
    await page.waitForSelector('#lookup');
    return (await page.textContent('h1')).trim() === '维修进度查询';
  });
  await page.fill('#ticket', t.id);
  await page.fill('#last4', wrong);
  await page.click('#show');
  await check('wrong last four digits are refused in words, nothing of the ticket shown', async () => {
    await page.waitForSelector('#message:not([hidden])');
    return /没有找到/.test(await page.textContent('#message')) && !(await page.isVisible('#result'));
  });
  await page.fill('#last4', last4);
  await page.click('#show');
  await check('the right ones show the state and the estimate waiting for consent', async () => {
    await page.waitForSelector('#estimate:not([hidden])');
    return /待您确认报价/.test(await page.textContent('#state')) && /580\.00/.test(await page.textContent('#e-amount'));
  });
  await check('the page shows neither the name, the phone nor the internal note', async () => {
    const text = await page.textContent('body');
    return !text.includes(name) && !text.includes(phone) && !text.includes('内部备注');
  });
  await check('the page fits a phone screen', () =>
    page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  await page.screenshot({ path: `${SHOTS}/status-estimate.png`, fullPage: true });
  await page.click('#lang');
  await check('the language switch turns the page into English', async () => {
    await page.waitForFunction(() => /Waiting for your decision/.test(document.getElementById('state').textContent));
    return (await page.textContent('#accept')).trim() === 'Accept';
  });
  await page.click('#accept');
  await check('accepting shows the repair under way and thanks the customer', async () => {
    await page.waitForSelector('#message.ok');
    return (await page.isHidden('#estimate')) && /(Being repaired|Waiting for parts)/.test(await page.textContent('#state'));
  });
  await page.screenshot({ path: `${SHOTS}/status-accepted-en.png`, fullPage: true });
  await check('the ticket records the consent by the customer via the status page', async () => {
    const g = await api('GET', `/v1/tickets/${t.id}`);
    const e = g.timeline.find((x) => x.event === 'estimate_accepted');
    return e && e.actor === 'customer:status-page' && g.work.consent === true;
  });
  await check('the page ran without script errors', () => {
    if (pageErrors.length) throw new Error(pageErrors.join('; '));
    return true;
  });
} catch (e) {
  notOk('the status page scenario ran to its end', e.stack || e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
