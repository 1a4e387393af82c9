// tests/console/desk.mjs — the console in a real browser: Debian's chromium driven by
// playwright-core (from build/npm, pinned by console/package-lock.json; nothing downloads a
// browser) against the test stack's gateway. Prints TAP lines (`ok - …` / `not ok - …`) for
// tests/run.sh and saves a screenshot of each screen into docs/console/.
//
// Environment (tests/run.sh loads the stack's env file): AS_GATEWAY_URL, AS_ROOT, the demo
// users' logins and passwords (AS_CENTER_LOGIN / AS_CENTER_PASSWORD ...) and bearer tokens.
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

// ---- fixtures through the API ----------------------------------------------------------------
function newImei() {
  const body = `35${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) { let d = Number(body[13 - i]); if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; } sum += d; }
  return body + ((10 - (sum % 10)) % 10);
}
const daysAgo = (n) => new Date(Date.now() - n * 864e5 + 8 * 36e5).toISOString().slice(0, 10); // China date
async function apiAs(token, method, path, body) {
  const r = await fetch(U + path, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
const phone = `139${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
const ticketBody = (imei, name, req, days) => ({
  customer: { name, phone },
  device: { category: 'phone_host', brand: 'Huaxin', model: 'HX-10', imei, imei_label: imei },
  purchase: { invoice_date: daysAgo(days), price_cents: 399900, invoice: true, warranty_card: true },
  fault: { code: 'NO_POWER', description: 'will not power on', listed: true }, request: req,
});

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const pageErrors = [];
async function newPage(viewport = { width: 1280, height: 720 }) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000); // a shared machine under load: the checks wait for behaviour, not for speed
  page.setDefaultNavigationTimeout(60000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
  return page;
}
async function signIn(page, who) {
  await page.goto(`${U}/`);
  await page.fill('#f-login', process.env[`AS_${who}_LOGIN`]);
  await page.fill('#f-password', process.env[`AS_${who}_PASSWORD`]);
  await page.click('button[type=submit]');
  await page.waitForSelector('#sign-out');
}
const shot = (page, name, opts = {}) => page.screenshot({ path: `${SHOTS}/${name}.png`, ...opts });
const noOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
const urls = [];

try {
  // ---- the front desk: a returning customer gets the 7-day refund --------------------------
  const oldImei = newImei();
  const old = await apiAs(process.env.AS_TOKEN_CENTER, 'POST', '/v1/tickets', ticketBody(oldImei, '李静', 'repair', 40));
  const page = await newPage();
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) urls.push(f.url()); });

  await page.goto(`${U}/`);
  await check('the sign-in page is shown at / (zh-CN by default)', async () => {
    await page.waitForSelector('#f-login');
    return (await page.textContent('button[type=submit]')).trim() === '登录';
  });
  await shot(page, 'login');
  await page.fill('#f-login', process.env.AS_CENTER_LOGIN);
  await page.fill('#f-password', 'wrong-password');
  await page.click('button[type=submit]');
  await check('a wrong password is refused in words next to the form', async () => {
    await page.waitForSelector('#login-error');
    return /不正确/.test(await page.textContent('#login-error'));
  });
  await signIn(page, 'CENTER');
  await check('a desk user signs in and sees the queue, the intake, and no staff accounts', async () =>
    (await page.isVisible('#nav-queue')) && (await page.isVisible('#nav-intake')) && !(await page.isVisible('#nav-users')));

  await page.fill('#f-q-phone', phone);
  await page.fill('#f-q-from', '');
  await page.click('#queue-search');
  await check('the returning customer is found by phone (server-side filter)', async () => {
    await page.waitForSelector(`#queue-table a[href="#/tickets/${old.id}"]`);
    return true;
  });
  await shot(page, 'queue');

  await page.click('#new-ticket');
  await page.waitForSelector('#intake-form');
  const imei = newImei();
  const bad = imei.slice(0, 14) + ((Number(imei[14]) + 1) % 10);
  await page.fill('#f-customer-name', '李静');
  await page.fill('#f-customer-phone', phone);
  await page.fill('#f-device-brand', 'Huaxin');
  await page.fill('#f-device-model', 'HX-10');
  await page.fill('#f-device-imei', bad);
  await page.fill('#f-device-imei_label', imei);
  await page.fill('#f-purchase-invoice_date', daysAgo(3));
  await page.fill('#f-fault-code', 'NO_POWER');
  await page.fill('#f-fault-description', '无法开机');
  await page.check('#req-refund');
  await page.fill('#f-pre-appearance', '外观完好');
  await page.click('#intake-submit');
  await check('a wrong IMEI check digit is shown in the error summary and at the field', async () => {
    await page.waitForSelector('.error-summary');
    return /IMEI/.test(await page.textContent('.error-summary')) && (await page.isVisible('#f-device-imei-err'));
  });
  await check('the pre-check sees that the IMEI inside differs from the label', async () => /否/.test(await page.textContent('#imei-match')));
  await shot(page, 'intake-errors', { fullPage: true });
  await page.fill('#f-device-imei', imei);
  await page.fill('#f-purchase-invoice_date', '2026-02-30');
  await page.click('#intake-submit');
  await check('an impossible date is refused at its field', async () => (await page.isVisible('#f-purchase-invoice_date-err')));
  await page.fill('#f-purchase-invoice_date', daysAgo(3));
  await page.click('#intake-submit');
  await check("the API's own validation message (price required) is shown at its field and in the summary", async () => {
    await page.waitForSelector('#f-purchase-price_cents-err');
    return /is required/.test(await page.textContent('#f-purchase-price_cents-err')) && /购买价格/.test(await page.textContent('.error-summary'));
  });
  await shot(page, 'intake-api-error');
  await page.fill('#f-purchase-price_cents', '3999.00');
  await page.check('#f-diagnosis_fee_consent');
  await page.click('#intake-submit');
  let id = '';
  await check('the ticket is opened and its page shown', async () => {
    await page.waitForSelector('#ticket-id');
    id = (await page.textContent('#ticket-id')).trim();
    return id.length > 0;
  });
  await check("the customer's consent to the diagnosis fee, ticked on the form, is on the ticket", async () => {
    const r = await fetch(`${U}/v1/tickets/${id}`, { headers: { Authorization: `Bearer ${process.env.AS_TOKEN_CENTER}` } });
    return (await r.json()).diagnosis_fee_consent === true;
  });
  await check('the refund decision is read out with its rule (M-2)', async () => {
    await page.waitForSelector('#decision-words li', { timeout: 30000 });
    const words = await page.textContent('#decision-words');
    return /M-2/.test(words) && /7 日内/.test(words) && /M-2/.test(await page.textContent('#decision-rules'));
  });
  await check('the customer\'s choices are listed', async () => /退货/.test(await page.textContent('#decision-choices')));
  await shot(page, 'ticket-refund', { fullPage: true });

  await page.selectOption('#f-payment_method', 'wechat_pay');
  await page.click('#submit-handback');
  await check('the refund is handed back at the counter', async () => {
    await page.waitForSelector('#print-handback');
    return /已退货/.test(await page.textContent('.page-head'));
  });
  await page.click('#print-handback');
  await page.waitForSelector('#doc');
  await check('the hand-back receipt names the ticket and carries its QR code', async () => {
    const no = (await page.textContent('#doc-ticket')).trim();
    const d = await page.getAttribute('#qr path', 'd');
    return no === id && d && d.length > 200 && (await page.getAttribute('#qr', 'aria-label')) === id;
  });
  await check('the receipt shows the payment method', async () => /微信支付/.test(await page.textContent('#doc-payment')));
  await page.emulateMedia({ media: 'print' });
  await check('the print view hides the toolbar and keeps the document', async () =>
    !(await page.isVisible('.print-toolbar')) && (await page.isVisible('#doc')));
  await shot(page, 'receipt-a4', { fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  await page.selectOption('#paper', 'receipt');
  await page.emulateMedia({ media: 'print' });
  await check('the 80 mm receipt renders the ticket number and QR', async () =>
    (await page.isVisible('#doc.doc-receipt')) && (await page.textContent('#doc-ticket')).trim() === id && (await page.isVisible('#qr')));
  await shot(page, 'receipt-80mm', { fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  await page.selectOption('#paper', 'a4');
  await page.goto(`${U}/console/#/print/intake/${id}`);
  await check('the intake job sheet renders the ticket number and QR', async () => {
    await page.waitForSelector('#doc');
    return (await page.textContent('#doc-ticket')).trim() === id && (await page.isVisible('#qr'));
  });

  // ---- another centre's ticket by URL --------------------------------------------------------
  const other = await apiAs(process.env.AS_TOKEN_CENTER_B, 'POST', '/v1/tickets', ticketBody(newImei(), '赵秘密', 'repair', 30));
  await page.goto(`${U}/console/#/tickets/${other.id}`);
  await check('another centre\'s ticket by URL is "not found" and shows none of its data', async () => {
    await page.waitForSelector('#not-found');
    const text = await page.textContent('body');
    return !text.includes('赵秘密') && !text.includes(phone);
  });
  await shot(page, 'not-found');

  // ---- the language switch -------------------------------------------------------------------
  await page.goto(`${U}/console/#/tickets/${id}`);
  await page.waitForSelector('#decision-words li');
  await page.click('#lang-switch');
  await check('the language switch turns the screen into English', async () =>
    (await page.textContent('#sign-out')).trim() === 'Sign out' && /7-day refund for a listed fault under M-2/.test(await page.textContent('#decision-words')));
  await check('money and dates keep their formats (¥1,299.00 style, 2026-12-07)', async () => {
    const text = await page.textContent('#main');
    return /¥3,999\.00/.test(text) && /\d{4}-\d{2}-\d{2}/.test(text);
  });
  await shot(page, 'ticket-refund-en', { fullPage: true });
  await page.click('#lang-switch');
  await check('and back to Chinese', async () => (await page.textContent('#sign-out')).trim() === '退出登录');

  await check('no personal data ever appeared in the page\'s address', async () => {
    const bad = urls.filter((u) => u.includes(phone) || u.includes(imei) || /phone=|imei=/.test(u));
    if (bad.length) throw new Error(bad.join(' '));
    return true;
  });

  // ---- a 10-inch tablet, upright -------------------------------------------------------------
  const tab = await newPage({ width: 800, height: 1280 });
  await signIn(tab, 'CENTER');
  await tab.goto(`${U}/console/#/intake`);
  await tab.waitForSelector('#intake-form');
  await check('the intake form fits a 10-inch tablet (800×1280) without sideways scrolling', () => noOverflow(tab));
  await shot(tab, 'intake-tablet');
  await tab.goto(`${U}/console/#/queue`);
  await tab.waitForSelector('#queue-table');
  await check('the queue page fits the tablet', () => noOverflow(tab));
  await page.goto(`${U}/console/#/intake`);
  await page.waitForSelector('#intake-form');
  await check('the intake form fits 1280×720', () => noOverflow(page));
  await shot(page, 'intake', { fullPage: true });

  // ---- the keyboard alone opens a ticket -----------------------------------------------------
  await check('the intake form is usable from the keyboard (Tab order reaches the submit button)', async () => {
    await page.focus('#f-customer-name');
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement && document.activeElement.id === 'intake-submit')) return true;
    }
    return false;
  });

  // ---- sign out ------------------------------------------------------------------------------
  await page.click('#sign-out');
  await check('signing out returns to the sign-in page and ends the session', async () => {
    await page.waitForSelector('#f-login');
    const r = await page.evaluate(async () => (await fetch('/v1/auth/me')).status);
    return r === 401;
  });

  // ---- the role decides the menu ---------------------------------------------------------------
  const wh = await newPage();
  await signIn(wh, 'WAREHOUSE');
  await check('the warehouse sees neither the ticket queue nor the intake', async () =>
    !(await wh.isVisible('#nav-queue')) && !(await wh.isVisible('#nav-intake')));
  await wh.goto(`${U}/console/#/intake`);
  await check('the warehouse cannot reach the intake by URL', async () => !(await wh.isVisible('#intake-form')));
  const fin = await newPage();
  await signIn(fin, 'FINANCE');
  await check('finance reads the queue but gets no intake and no ticket buttons', async () => {
    await fin.goto(`${U}/console/#/tickets/${id}`);
    await fin.waitForSelector('#ticket-id');
    return !(await fin.isVisible('#nav-intake')) && !(await fin.isVisible('#actions'));
  });

  await wh.click('#nav-stock');
  await check('the warehouse sees the stock of its site, server-filtered by site', async () => {
    await wh.waitForSelector('#stock-table td.mono');
    return /WH01/.test(await wh.inputValue('#f-s-site')) && (await wh.$$('#stock-table tbody tr')).length > 0;
  });
  await shot(wh, 'stock');
  await wh.check('#f-s-low');
  await wh.click('#stock-search');
  await check('the low-stock filter keeps only rows at or under the reorder point', async () => {
    await wh.waitForTimeout(300);
    const tags = await wh.$$eval('#stock-table tbody tr', (trs) => trs.map((tr) => tr.lastElementChild.textContent));
    return tags.every((x) => /低于安全库存|需补货|没有记录/.test(x));
  });
  await check('the warehouse gets no staff accounts and no dashboard', async () =>
    !(await wh.isVisible('#nav-users')) && !(await wh.isVisible('#nav-dashboard')));

  // ---- the region dashboard --------------------------------------------------------------------
  for (const ch of ['walk_in', 'phone'])
    await apiAs(process.env.AS_TOKEN_CENTER, 'POST', '/v1/complaints', { channel: ch, cause: 'attitude', description: 'slow', customer_name: '陈杰', customer_phone: '13611112222' });
  const reg = await newPage();
  await signIn(reg, 'REGION');
  await reg.click('#nav-dashboard');
  await check('the region manager sees per-centre figures with an SVG chart', async () => {
    await reg.waitForSelector('#chart-complaints rect');
    return /SH01/.test(await reg.textContent('#dash-table')) && /SH01/.test(await reg.textContent('#chart-complaints'));
  });
  await shot(reg, 'dashboard', { fullPage: true });
  await check('the region manager cannot open a ticket (no intake)', async () => !(await reg.isVisible('#nav-intake')));

  // ---- finance: trial balance, claims, the CSV export ------------------------------------------
  await fin.click('#nav-finance');
  await check('finance sees the trial balance of the month and whether it balances', async () => {
    await fin.waitForSelector('#balanced');
    return (await fin.isVisible('#balance-table')) && (await fin.isVisible('#claims-table'));
  });
  await check('the ledger export downloads as CSV with the session', async () => {
    const href = await fin.getAttribute('#export-csv', 'href');
    const r = await fin.evaluate(async (h) => { const x = await fetch(h); return { s: x.status, ct: x.headers.get('content-type'), b: (await x.text()).slice(0, 200) }; }, href);
    if (r.s !== 200 || !/csv/.test(r.ct)) throw new Error(JSON.stringify(r));
    return !/phone|imei/i.test(href);
  });
  await fin.fill('#f-fin-period', '2026/12');
  await fin.click('#fin-search');
  await check('a malformed period is refused at its field', async () => fin.isVisible('#f-fin-period-err'));
  await fin.fill('#f-fin-period', new Date(Date.now() + 8 * 36e5).toISOString().slice(0, 7));
  await fin.click('#fin-search');
  await fin.waitForSelector('#balanced');
  await shot(fin, 'finance', { fullPage: true });

  // ---- administration: staff accounts ----------------------------------------------------------
  const adm = await newPage();
  await signIn(adm, 'ADMIN');
  await adm.click('#nav-users');
  await check('the administrator sees the staff accounts', async () => {
    await adm.waitForSelector('#users-table td.mono');
    return /desk\.sh01/.test(await adm.textContent('#users-table'));
  });
  await shot(adm, 'users');

  await check('no script error on any page', async () => {
    if (pageErrors.length) throw new Error(pageErrors.join(' | '));
    return true;
  });
} catch (e) {
  notOk('the browser scenario ran to its end', e.stack || e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
