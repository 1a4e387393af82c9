// tests/console/screens.mjs — the second round of console screens in a real browser (Debian's
// chromium, playwright-core from build/npm) against the test stack: the workshop (diagnosis with
// parts, estimate, revised estimate, repair done, the estimate and invoice printouts), the
// warehouse (a replenishment suggestion turned into a transfer, shipped, received short;
// defective returns; loaners lent and returned), the call-back desk (the script, the scores),
// the complaints board (a complaint opened from a ticket, its deadlines) and the network
// administration (centres, regions, brands, the parts price list). Prints TAP lines and saves a
// screenshot per screen into docs/console/.
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
const notOk = (name, why) => { failed++; console.log(`not ok - ${name}: ${String(why).split('\n')[0]}`); if (process.env.AS_DEBUG) console.log(String(why)); };
async function check(name, fn) {
  try { const r = await fn(); if (r === false) notOk(name, 'condition false'); else ok(name); } catch (e) { notOk(name, e.message || e); }
}

function newImei() {
  const body = `35${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) { let d = Number(body[13 - i]); if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; } sum += d; }
  return body + ((10 - (sum % 10)) % 10);
}
const chinaDay = (offsetDays) => new Date(Date.now() + offsetDays * 864e5 + 8 * 36e5).toISOString().slice(0, 10);
async function apiAs(token, method, path, body) {
  const r = await fetch(U + path, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
const phone = `138${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
const ticketBody = (name, req, days) => ({
  customer: { name, phone },
  device: { category: 'phone_host', brand: 'Huaxin', model: 'HX-10', imei: newImei() },
  purchase: { invoice_date: chinaDay(-days), price_cents: 399900, invoice: true, warranty_card: true },
  fault: { code: 'NO_DISPLAY', description: 'screen stays black', listed: true }, request: req,
});
async function waitState(token, id, states, tries = 240) {
  for (let i = 0; i < tries; i++) {
    const tk = await apiAs(token, 'GET', `/v1/tickets/${id}`);
    if (states.includes(tk.state)) return tk;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ticket ${id} never reached ${states}`);
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const pageErrors = [];
async function newPage(viewport = { width: 1366, height: 768 }) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000); // the checks wait for behaviour, not for speed
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
const C = process.env.AS_TOKEN_CENTER;
const CENTER = process.env.AS_CENTER_CODE || 'SH01';

try {
  // ---- workshop: a paid repair from diagnosis to hand-back -----------------------------------
  const paid = await apiAs(C, 'POST', '/v1/tickets', ticketBody('王工', 'repair', 800));
  await waitState(C, paid.id, ['adjudicated']);
  const desk = await newPage();
  await signIn(desk, 'CENTER');
  await check('the desk has the workshop, call-back, complaints, transfers and loaners menus', async () =>
    (await desk.isVisible('#nav-workshop')) && (await desk.isVisible('#nav-callbacks')) && (await desk.isVisible('#nav-complaints'))
    && (await desk.isVisible('#nav-transfers')) && (await desk.isVisible('#nav-loaners')) && !(await desk.isVisible('#nav-network')));
  await desk.click('#nav-workshop');
  await check('the workshop lists the decided ticket under "to diagnose"', async () => {
    await desk.waitForSelector(`#work-adjudicated a[href="#/tickets/${paid.id}"]`);
    return true;
  });
  await shot(desk, 'workshop', { fullPage: true });
  await desk.click(`#work-adjudicated a[href="#/tickets/${paid.id}"]`);
  await desk.waitForSelector('#form-diagnosis');
  await desk.fill('#f-fault_code', 'LCD_FAIL');
  await check('the labour codes of the price list are offered with their price', async () =>
    (await desk.$$eval('#labour-list option', (os) => os.map((o) => o.value + ' ' + o.textContent))).some((x) => /L-SCREEN .*¥/.test(x)));
  await desk.fill('#f-labour_code', 'L-SCREEN');
  await desk.fill('#f-parts', 'HX10-SCREEN**');
  await desk.fill('#f-estimate_cents', '580.00');
  await desk.click('#submit-diagnosis');
  await check('a malformed parts list is refused at its field, nothing sent', async () => {
    await desk.waitForSelector('#f-parts-err');
    return (await waitState(C, paid.id, ['adjudicated'])).state === 'adjudicated';
  });
  await desk.fill('#f-parts', 'HX10-SCREEN*1');
  await desk.click('#submit-diagnosis');
  await check('the diagnosis with its parts and estimate goes to the customer for consent', async () => {
    await desk.waitForSelector('#form-consent');
    return /HX10-SCREEN/.test(await desk.textContent('#part-lines')) && /580\.00/.test(await desk.textContent('#main'));
  });
  await desk.click('#print-estimate');
  await check('the estimate prints with the ticket number, its QR, the parts and the total', async () => {
    await desk.waitForSelector('#doc-estimate');
    return (await desk.textContent('#doc-ticket')).trim() === paid.id && /HX10-SCREEN/.test(await desk.textContent('#doc-estimate'))
      && /¥580\.00/.test(await desk.textContent('#doc-estimate-total')) && (await desk.isVisible('#qr'));
  });
  await shot(desk, 'estimate-a4', { fullPage: true });
  await desk.goto(`${U}/console/#/tickets/${paid.id}`);
  await desk.waitForSelector('#form-consent');
  await desk.click('#submit-consent');
  await check('after consent the part line shows its status from the parts service', async () => {
    await desk.waitForSelector('#form-revise-estimate');
    for (let i = 0; i < 20; i++) {
      if (/已预留|欠货|已领用/.test(await desk.textContent('#part-lines'))) return true;
      await desk.waitForTimeout(300);
      await desk.goto(`${U}/console/#/workshop`); await desk.goto(`${U}/console/#/tickets/${paid.id}`);
      await desk.waitForSelector('#part-lines');
    }
    return false;
  });
  await desk.fill('#f-estimate_cents', '0');
  await desk.click('#submit-revise-estimate');
  await check('a revised estimate of zero is refused at its field', async () => desk.isVisible('#f-estimate_cents-err'));
  await desk.fill('#f-estimate_cents', '650.00');
  await desk.fill('#form-revise-estimate #f-note', '主板也有损坏');
  await desk.click('#submit-revise-estimate');
  await check('the revised estimate sends the ticket back for consent', async () => {
    await desk.waitForSelector('#form-consent');
    return (await waitState(C, paid.id, ['estimate_pending'])).work.estimate_cents === 65000;
  });
  await shot(desk, 'ticket-workshop', { fullPage: true });
  await desk.click('#submit-consent');
  await desk.waitForSelector('#form-repair-complete');
  await waitState(C, paid.id, ['in_repair']);
  await desk.goto(`${U}/console/#/workshop`);
  await desk.goto(`${U}/console/#/tickets/${paid.id}`);
  await desk.waitForSelector('#form-repair-complete');
  await desk.fill('#f-labour_minutes', '45');
  await desk.click('#submit-repair-complete');
  await check('repair done: the ticket is ready for pick-up', async () => {
    await desk.waitForSelector('#form-handback');
    return /待取机/.test(await desk.textContent('.page-head'));
  });
  await check('the reserved screen was reported used: its line is issued, not released', async () => {
    for (let i = 0; i < 30; i++) {
      const tk = await apiAs(C, 'GET', `/v1/tickets/${paid.id}`);
      const st = ((tk.work || {}).requested || []).map((r) => r.status).join(',');
      if (st === 'issued') return true;
      if (st === 'released') return false;
      await desk.waitForTimeout(200);
    }
    return false;
  });

  // ---- loaners: lent against the open ticket, returned ---------------------------------------
  await desk.click('#nav-loaners');
  await desk.waitForSelector('#loaners-table td.mono');
  const serial = await desk.evaluate(() => {
    const row = [...document.querySelectorAll('#loaners-table tbody tr')].find((tr) => tr.querySelector('[id^="loan-open-"]'));
    return row ? row.id.replace('loaner-', '') : '';
  });
  await check('the desk sees an available loaner of its own site', async () => serial.length > 0);
  await desk.click(`#loan-open-${serial}`);
  await desk.fill('#f-lend-ticket_id', 'T-NOPE');
  await desk.click('#submit-lend');
  await check("an unknown ticket is refused with the API's words", async () => {
    await desk.waitForSelector('#form-lend .alert-error, #form-lend .field-error');
    return true;
  });
  await desk.fill('#f-lend-ticket_id', paid.id);
  await desk.fill('#f-lend-customer', '王工');
  await desk.fill('#f-lend-phone', phone);
  await desk.click('#submit-lend');
  await check('the loaner is lent against the open ticket', async () => {
    await desk.waitForSelector(`#loan-return-${serial}`);
    return (await desk.textContent(`#loaner-${serial}`)).includes(paid.id);
  });
  await shot(desk, 'loaners', { fullPage: true });
  await desk.click(`#loan-return-${serial}`);
  await check('and returned', async () => { await desk.waitForSelector(`#loan-open-${serial}`); return true; });

  // ---- hand-back and the invoice ---------------------------------------------------------------
  await desk.goto(`${U}/console/#/tickets/${paid.id}`);
  await desk.waitForSelector('#form-handback');
  await desk.selectOption('#f-payment_method', 'cash');
  await desk.click('#submit-handback');
  await desk.waitForSelector('#print-invoice');
  let invoiceNo = '';
  for (let i = 0; i < 160 && !invoiceNo; i++) {
    const c = await apiAs(C, 'GET', `/v1/settlement/charges/${paid.id}`).catch(() => ({}));
    invoiceNo = c.invoice_no || '';
    if (!invoiceNo) await new Promise((r) => setTimeout(r, 250));
  }
  await desk.click('#print-invoice');
  await check('the invoice prints with its number, lines and total', async () => {
    await desk.waitForSelector('#doc-invoice-no');
    return (await desk.textContent('#doc-invoice-no')).trim() === invoiceNo && /¥/.test(await desk.textContent('#doc-invoice-total'));
  });
  await shot(desk, 'invoice-a4', { fullPage: true });

  // ---- complaints: opened from the ticket, on the board with its deadlines -----------------
  await desk.goto(`${U}/console/#/tickets/${paid.id}`);
  await desk.waitForSelector('#open-complaint');
  await desk.click('#open-complaint');
  await desk.waitForSelector('#form-complaint');
  await check('the complaint form comes pre-filled with the ticket', async () => (await desk.inputValue('#f-complaint-ticket_id')) === paid.id);
  await desk.click('#submit-complaint');
  await check('a complaint without a description is refused at its field', async () => desk.isVisible('#f-complaint-description-err'));
  await desk.fill('#f-complaint-description', '维修后又加价，态度也不好');
  await desk.selectOption('#f-complaint-channel', 'hotline_12315');
  await desk.click('#submit-complaint');
  let cid = '';
  await check('the complaint is opened and shown on the board with its next deadline and time left', async () => {
    await desk.waitForSelector('#cp-msg');
    cid = (await desk.textContent('#cp-msg')).match(/[A-Z]+-?[0-9A-Z-]+/)[0];
    await desk.waitForSelector(`#cp-${cid}`);
    const row = await desk.textContent(`#cp-${cid}`);
    return /严重/.test(row) && /剩余|已超时/.test(row);
  });
  await shot(desk, 'complaints', { fullPage: true });
  await desk.click(`#cp-${cid} a`);
  await desk.waitForSelector('#deadlines');
  await check('the complaint page lists each deadline; acknowledging meets the first', async () => {
    await desk.click('#submit-acknowledge');
    await desk.waitForSelector('#form-resolve');
    return /已完成/.test(await desk.textContent('#deadlines'));
  });
  await desk.fill('#f-report-report', '经核实，报价变更已征得客户同意；已对员工进行服务态度培训。');
  await desk.click('#submit-report');
  await check('the written report is filed', async () => {
    await desk.waitForFunction(() => !document.querySelector('#form-report'));
    return /经核实/.test(await desk.textContent('#main'));
  });
  await shot(desk, 'complaint', { fullPage: true });

  // ---- the call-back desk: the closed ticket's callback, scored low ---------------------------
  const closed = await apiAs(C, 'POST', '/v1/tickets', ticketBody('周回访', 'repair', 40));
  await waitState(C, closed.id, ['adjudicated']);
  await apiAs(C, 'POST', `/v1/tickets/${closed.id}/diagnosis`, { fault_code: 'NO_DISPLAY' });
  await waitState(C, closed.id, ['in_repair']);
  await apiAs(C, 'POST', `/v1/tickets/${closed.id}/repair-complete`, { labour_minutes: 20, cause: 'manufacturing_quality' });
  await apiAs(C, 'POST', `/v1/tickets/${closed.id}/handback`, {});
  let cb = null;
  for (let i = 0; i < 160 && !cb; i++) {
    const r = await apiAs(C, 'GET', `/v1/surveys/due?date=${chinaDay(10)}&ticket_id=${closed.id}`);
    cb = (r.callbacks || [])[0] || null;
    if (!cb) await new Promise((r) => setTimeout(r, 250));
  }
  await desk.click('#nav-callbacks');
  await desk.waitForSelector('#callbacks-table');
  await desk.fill('#f-cb-date', '2026-13-40');
  await desk.click('#cb-search');
  await check('a malformed date is refused in words', async () => /2026-12-07/.test(await desk.textContent('#main .alert-error')));
  await desk.fill('#f-cb-date', chinaDay(10));
  await desk.click('#cb-search');
  await check("the closed ticket's callback is due, with the customer to call", async () => {
    await desk.waitForSelector(`#cb-${cb.id}`);
    return (await desk.textContent(`#cb-${cb.id}`)).includes('周回访');
  });
  await desk.click(`#call-${cb.id}`);
  await desk.waitForSelector('#call-script');
  await check('the call script names the customer and the ticket', async () => {
    const s = await desk.textContent('#call-script');
    return s.includes('周回访') && s.includes(closed.id);
  });
  await desk.click('#submit-answer');
  await check('scores left out are refused at their fields', async () => desk.isVisible('#f-answer-attitude-err'));
  for (const d of ['attitude', 'repair_quality', 'timeliness', 'price', 'facilities']) await desk.selectOption(`#f-answer-${d}`, '2');
  await desk.selectOption('#f-answer-nps', '3');
  await desk.fill('#f-answer-comment', '等了太久');
  await shot(desk, 'callbacks', { fullPage: true });
  await desk.click('#submit-answer');
  await check('the scores are recorded; the low score opens a complaint by itself', async () => {
    await desk.waitForSelector('#cb-msg');
    return /回访/.test(await desk.textContent('#cb-msg')) && /投诉/.test(await desk.textContent('#cb-msg'));
  });
  const phoneSized = await newPage({ width: 390, height: 844 });
  await signIn(phoneSized, 'CENTER');
  for (const s of ['workshop', 'callbacks', 'complaints', 'loaners', 'transfers']) {
    await phoneSized.goto(`${U}/console/#/${s}`);
    await phoneSized.waitForSelector('.page-head');
    await phoneSized.waitForTimeout(200);
    await check(`the ${s} screen fits a 390 px phone (tables scroll inside their card)`, () => noOverflow(phoneSized));
  }
  await shot(phoneSized, 'transfers-phone', { fullPage: true });

  // ---- warehouse: a suggestion becomes a transfer, shipped, received short -------------------
  const wh = await newPage();
  await signIn(wh, 'WAREHOUSE');
  await check('the warehouse has transfers, returns and loaners, and no workshop', async () =>
    (await wh.isVisible('#nav-transfers')) && (await wh.isVisible('#nav-returns')) && (await wh.isVisible('#nav-loaners')) && !(await wh.isVisible('#nav-workshop')));
  await wh.click('#nav-transfers');
  await wh.fill('#f-sg-site', CENTER);
  await wh.click('#sugg-search');
  await check(`the replenishment suggestions of ${CENTER} are listed`, async () => {
    await wh.waitForSelector('#sugg-table input.qty-input');
    return true;
  });
  // Keep the transfer small: one line of one unit.
  const inputs = await wh.$$('#sugg-table input.qty-input');
  for (let i = 0; i < inputs.length; i++) await inputs[i].fill(i === 0 ? '2' : '0');
  await shot(wh, 'transfers', { fullPage: true });
  await wh.click('#create-transfer');
  let trId = '';
  await check('one action turns the suggestion into a transfer', async () => {
    await wh.waitForSelector('#transfer-created');
    trId = (await wh.textContent('#transfer-created')).match(/\S+(?= 已创建)/)[0].replace(/^调拨单/, '');
    await wh.waitForSelector(`#tr-${trId}`);
    return true;
  });
  await check('the warehouse ships it', async () => {
    await wh.waitForSelector(`#ship-${trId}`);
    await wh.click(`#ship-${trId}`);
    await wh.waitForSelector(`#tr-${trId} >> text=已发货`);
    return true;
  });
  await desk.click('#nav-prices');
  await check('the desk reads the price list without costs or claim prices', async () => {
    await desk.waitForSelector('#labour-table td.mono');
    return !/索赔价/.test(await desk.textContent('#labour-table thead')) && !/成本价/.test(await desk.textContent('#prices-table thead'));
  });
  await shot(desk, 'prices', { fullPage: true });
  await desk.click('#nav-transfers');
  await desk.waitForSelector(`#open-receive-${trId}`);
  await desk.click(`#open-receive-${trId}`);
  await desk.fill(`#tr-${trId} input[id$="-qty"]`, '1');
  await desk.fill(`#tr-${trId} input[id$="-damaged"]`, '2');
  await desk.click(`#receive-${trId}`);
  await check("receiving more than was shipped is refused in the API's words", async () => {
    await desk.waitForSelector(`#tr-${trId} .inline-error`);
    return /shipped/.test(await desk.textContent(`#tr-${trId} .inline-error`));
  });
  await desk.fill(`#tr-${trId} input[id$="-damaged"]`, '1');
  await desk.click(`#receive-${trId}`);
  await check('the centre receives it with one unit damaged: the discrepancy is shown', async () => {
    await desk.waitForSelector(`#tr-${trId} >> text=已收货`);
    return /差异/.test(await desk.textContent(`#tr-${trId}`));
  });
  await shot(desk, 'transfer-received', { fullPage: true });

  // ---- defective returns ------------------------------------------------------------------------
  await wh.click('#nav-returns');
  await check('the warehouse sees the defective returns owed', async () => {
    await wh.waitForSelector('#returns-table tbody tr');
    return true;
  });
  await shot(wh, 'returns', { fullPage: true });
  const recv = await wh.$('#returns-table [id^="ret-receive-"]');
  if (recv) {
    const rid = (await recv.getAttribute('id')).replace('ret-receive-', '');
    await recv.click();
    await check('a defective return is received at the warehouse', async () => {
      await wh.waitForFunction((x) => !document.getElementById(`ret-receive-${x}`), rid);
      return true;
    });
  }

  // ---- network administration ------------------------------------------------------------------
  const adm = await newPage();
  await signIn(adm, 'ADMIN');
  await adm.click('#nav-network');
  await check('the administrator sees centres, regions, brands and the price list (labour, parts, fees, VAT)', async () => {
    await adm.waitForSelector('#centers-table td.mono');
    await adm.waitForSelector('#labour-table td.mono');
    return /SH01/.test(await adm.textContent('#centers-table')) && /east/.test(await adm.textContent('#regions-table'))
      && /Huaxin/.test(await adm.textContent('#brands-table')) && /L-SCREEN/.test(await adm.textContent('#labour-table'))
      && /¥/.test(await adm.textContent('#prices-table')) && /FEE-SVC/.test(await adm.textContent('#fees-table')) && /13%/.test(await adm.textContent('#vat-rate'));
  });
  await check('the administrator sees the costs and claim prices', async () => /索赔价/.test(await adm.textContent('#labour-table thead')));
  await adm.fill('#f-pr-date', '2019-01-01');
  await adm.click('#price-search');
  await check('the price list of a date before every rate is empty', async () => {
    await adm.waitForSelector('#labour-table >> text=没有记录');
    return true;
  });
  await adm.fill('#f-pr-date', '2026-02-30');
  await adm.click('#price-search');
  await check("an impossible date is refused at its field in the API's words", async () => {
    await adm.waitForSelector('#f-pr-date-err');
    return /YYYY-MM-DD/.test(await adm.textContent('#f-pr-date-err'));
  });
  await adm.fill('#f-pr-date', chinaDay(0));
  await adm.click('#price-search');
  await adm.waitForSelector('#labour-table td.mono');
  const code = `R${Math.floor(Math.random() * 1e6)}`;
  await adm.click('#add-region');
  await adm.fill('#f-region-code', code.toLowerCase());
  await adm.fill('#f-region-name', '测试区域');
  await adm.click('#submit-region');
  await check('a region is added and listed', async () => {
    await adm.waitForSelector('#net-msg');
    await adm.waitForSelector(`#regions-table >> text=${code.toLowerCase()}`);
    return true;
  });
  await adm.click('#submit-region');
  await check("an empty region is refused with the API's words", async () => {
    await adm.waitForSelector('#form-region .field-error, #form-region .alert-error');
    return true;
  });
  await shot(adm, 'network', { fullPage: true });
  await adm.click('#lang-switch');
  await check('the network screen reads in English', async () => /Service centres/.test(await adm.textContent('#main')));
  await adm.click('#lang-switch');

  const reg = await newPage();
  await signIn(reg, 'REGION');
  await reg.click('#nav-dashboard');
  await check("the region dashboard adds the cost per repair by centre from settlement's cost analysis", async () => {
    await reg.waitForSelector('#chart-cost rect');
    return /SH01/.test(await reg.textContent('#chart-cost'));
  });
  await shot(reg, 'dashboard-cost', { fullPage: true });
  await reg.click('#nav-transfers');
  await check('a region manager reads transfers but gets no buttons to change them', async () => {
    await reg.waitForSelector('#transfers-table');
    await reg.waitForTimeout(300);
    return !(await reg.isVisible('#create-transfer')) && (await reg.$$('#transfers-table button')).length === 0;
  });
  const fin = await newPage();
  await signIn(fin, 'FINANCE');
  await check('finance gets the defective returns but no workshop, transfers or call-backs', async () =>
    (await fin.isVisible('#nav-returns')) && !(await fin.isVisible('#nav-workshop')) && !(await fin.isVisible('#nav-transfers')) && !(await fin.isVisible('#nav-callbacks')));
  await fin.goto(`${U}/console/#/workshop`);
  await check('finance cannot reach the workshop by URL', async () => { await fin.waitForSelector('#not-found'); return true; });

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
