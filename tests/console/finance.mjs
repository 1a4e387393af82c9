// tests/console/finance.mjs — the console's finance work (issue 18 points 5 and 8, decision 0032)
// in a real browser (Debian's chromium, playwright-core from build/npm) against the test stack:
// the price list written by finance (a new code refused without its name, a negative price
// refused at its field, then saved and read back through the API; a part's price from tomorrow,
// a claim handling surcharge, an on-site travel rate; the desk has no form), a
// manufacturer claim of this run's own manufacturer submitted, decided line by line (one line
// partly approved, one rejected, the rest approved; a missing reason and an amount above the
// claim refused at their lines) and paid (a future date refused at its field in the API's
// words); the trial balance and the CSV export show the payment, the cost analysis is charted;
// the accounting periods screen
// closes a past month. Prints TAP lines and saves a screenshot per screen into docs/console/.
import { execFileSync } from 'node:child_process';
import {
  ROOT, U, notOk, check, chinaDay, apiAs, rnd, browser, pageErrors, newPage, signIn, shot, F, failures,
} from './lib.mjs';

const TODAY = chinaDay(0);
// SQL as the settlement service (the test's own rates and the repairs the consumer would apply).
function sql(text) {
  try {
    return execFileSync(`${ROOT}/deploy/local/stack.sh`, ['psql', 'settlement', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', text], { stdio: 'pipe' }).toString().trim();
  } catch (e) { throw new Error(`${text.slice(0, 80)}: ${String(e.stderr || e.message).trim()}`); }
}
const TAG = rnd(6);
const MFR = `FC${TAG}`;
const LAB = `L-FC${TAG}`;
const SKU = `P-FC${TAG}`;
const money = (s) => Number(String(s).replace(/[^0-9.-]/g, ''));

try {
  // This run's manufacturer: a labour rate and a part the maker need not get back, every fee off,
  // and two covered repairs of today — one claim with four lines: 40.00 + 110.00 + 40.00 + 110.00.
  sql(`INSERT INTO labour_rates VALUES ('${LAB}', 'phone_host', '${MFR}', '2020-01-01', 'Finance test labour', 6000, 0, 4000, 0);
       INSERT INTO parts_prices VALUES ('${SKU}', '2020-01-01', 'Finance test part', '${MFR}', 15000, 10000, false, true);
       INSERT INTO claim_handling VALUES ('${MFR}', '2020-01-01', 1000);
       INSERT INTO fee_rates(fee_code, category, manufacturer, effective_from, description, active)
         SELECT DISTINCT fee_code, category, '${MFR}', date '2020-01-01', 'off for the test', false FROM fee_rates ON CONFLICT DO NOTHING;`);
  for (const k of ['1', '2']) {
    const ev = { ticket_id: `FC${k}-${TAG}`, center: 'SH01', region: 'east', category: 'phone_host', brand: 'Huaxin', manufacturer: MFR,
      fault_code: 'NO_POWER', labour_code: LAB, labour_minutes: 30, parts_used: [{ line_no: 1, sku: SKU, qty: 1 }], payer: 'manufacturer',
      warranty_status: 'granted', remedy: 'repair', cause: 'other', completed_at: `${TODAY}T04:00:00Z` };
    sql(`SELECT on_repair_completed('${JSON.stringify(ev)}'::jsonb)`);
  }
  const claimId = (await apiAs(F, 'GET', `/v1/settlement/claims?manufacturer=${MFR}`)).claims[0].id;
  const balance = async () => (await apiAs(F, 'GET', `/v1/settlement/balance?period=${TODAY.slice(0, 7)}`)).accounts.find((a) => a.account === '1001') || {};
  const cashBefore = (await balance()).debit_cents || 0;

  // ---- the price list: finance writes a new version ----------------------------------------
  const fin = await newPage();
  await signIn(fin, 'FINANCE');
  await fin.click('#nav-prices');
  await fin.waitForSelector('#labour-table td.mono');
  await check('finance has the price-list form with the three tables', async () =>
    (await fin.isVisible('#form-rate')) && (await fin.isVisible('#rate-tab-parts')) && (await fin.isVisible('#rate-tab-fees')));
  const NEW = `L-NEW${TAG}`;
  await fin.fill('#f-rate-labour_code', NEW);
  await fin.fill('#f-rate-list_flat_cents', '-5');
  await fin.fill('#f-rate-claim_flat_cents', '60.00');
  await fin.click('#submit-rate');
  await check('a negative price is refused at its field', async () => {
    await fin.waitForSelector('#f-rate-list_flat_cents-err');
    return (await fin.getAttribute('#f-rate-list_flat_cents', 'aria-invalid')) === 'true';
  });
  await fin.fill('#f-rate-list_flat_cents', '88.50');
  await fin.click('#submit-rate');
  await check("a new code without its name is refused at the name, in the API's words", async () => {
    await fin.waitForSelector('#f-rate-description-err');
    return /description/.test(await fin.textContent('#f-rate-description-err'));
  });
  await fin.fill('#f-rate-effective_from', chinaDay(-1));
  await fin.fill('#f-rate-description', 'Finance test work 测试工时');
  await fin.click('#submit-rate');
  await check('a date before today is refused at its field', async () => {
    await fin.waitForSelector('#f-rate-effective_from-err');
    return (await fin.textContent('#f-rate-effective_from-err')).includes(TODAY);
  });
  await fin.fill('#f-rate-effective_from', TODAY);
  await fin.click('#submit-rate');
  await check('the new version is saved and the list shows it', async () => {
    await fin.waitForSelector('#rate-msg');
    await fin.waitForSelector(`#labour-table >> text=${NEW}`);
    return (await fin.textContent('#labour-table')).includes('88.50');
  });
  await check('the API has it from today, with the claim price', async () => {
    const r = await apiAs(F, 'GET', `/v1/settlement/rates?date=${TODAY}`);
    const row = r.labour.find((x) => x.labour_code === NEW);
    return !!row && row.list_flat_cents === 8850 && row.claim_flat_cents === 6000 && row.effective_from === TODAY;
  });
  await fin.click('#rate-tab-parts');
  await fin.fill('#f-rate-sku', SKU);
  await fin.dispatchEvent('#f-rate-sku', 'change');
  await check("choosing a SKU of the list fills the form with its prices", async () =>
    (await fin.inputValue('#f-rate-list_cents')) === '150.00' && (await fin.inputValue('#f-rate-cost_cents')) === '100.00');
  await fin.fill('#f-rate-effective_from', chinaDay(1));
  await fin.fill('#f-rate-list_cents', '160.00');
  await fin.click('#submit-rate');
  await check("a part's price from tomorrow is saved; today's stays", async () => {
    await fin.waitForSelector('#rate-msg');
    const t1 = (await apiAs(F, 'GET', `/v1/settlement/rates?date=${chinaDay(1)}`)).parts.find((x) => x.sku === SKU);
    const t0 = (await apiAs(F, 'GET', `/v1/settlement/rates?date=${TODAY}`)).parts.find((x) => x.sku === SKU);
    return t1.list_cents === 16000 && t1.cost_cents === 10000 && t0.list_cents === 15000;
  });
  await fin.click('#rate-tab-handling');
  await fin.fill('#f-rate-effective_from', TODAY);
  await fin.fill('#f-rate-manufacturer', MFR);
  await fin.fill('#f-rate-handling_bp', '12,5');
  await fin.click('#submit-rate');
  await check('a malformed percentage is refused at its field', async () => { await fin.waitForSelector('#f-rate-handling_bp-err'); return true; });
  await fin.fill('#f-rate-handling_bp', '12.5');
  await fin.click('#submit-rate');
  await check("a manufacturer's claim handling of 12.5 % is saved and listed", async () => {
    await fin.waitForSelector(`#handling-table tr:has-text("${MFR}"):has-text("12.50%")`);
    const r = (await apiAs(F, 'GET', `/v1/settlement/rates?date=${TODAY}`)).handling.find((x) => x.manufacturer === MFR);
    return r.handling_bp === 1250 && (await fin.textContent('#handling-table')).includes('12.50%');
  });
  await fin.click('#rate-tab-travel');
  await fin.selectOption('#f-rate-category', 'phone_terminal_card');
  await fin.fill('#f-rate-list_cents_per_km', '3.20');
  await fin.fill('#f-rate-claim_cents_per_km', '2.10');
  await fin.click('#submit-rate');
  await check('an on-site travel rate for a category is saved and listed', async () => {
    await fin.waitForSelector('#rate-msg');
    await fin.waitForSelector('#travel-table >> text=¥3.20');
    const r = (await apiAs(F, 'GET', `/v1/settlement/rates?date=${TODAY}`)).travel.find((x) => x.category === 'phone_terminal_card');
    return r.list_cents_per_km === 320 && r.claim_cents_per_km === 210;
  });
  await fin.click('#rate-tab-labour');
  await shot(fin, 'price-edit', { fullPage: true });

  const desk = await newPage();
  await signIn(desk, 'CENTER');
  await desk.click('#nav-prices');
  await desk.waitForSelector('#labour-table td.mono');
  await check('the desk reads the price list and the travel rates without the form, the handling or the claim rates', async () => {
    await desk.waitForSelector('#travel-table >> text=¥3.20');
    return (await desk.$$('#form-rate')).length === 0 && (await desk.$$('#handling-table')).length === 0 && !(await desk.textContent('#travel-table')).includes('¥2.10');
  });
  await check('the desk has no periods screen, not even by its address', async () => {
    if (await desk.isVisible('#nav-periods')) return false;
    await desk.goto(`${U}/console/#/periods`);
    await desk.waitForSelector('#not-found');
    return true;
  });

  // ---- a claim: submit, decide line by line, record the payment -----------------------------
  await fin.goto(`${U}/console/#/claims/${encodeURIComponent(claimId)}`);
  await fin.waitForSelector('#claim-submit-btn');
  await check('an open claim offers its submission', async () => (await fin.textContent('#claim-lines')).includes(`FC1-${TAG}`));
  await fin.click('#claim-submit-btn');
  await check('submitted, the claim asks for the decision of each of its four lines', async () => {
    await fin.waitForSelector('#decide-table');
    return (await fin.$$('#decide-table tbody tr')).length === 4 && /已提交|submitted/.test(await fin.textContent('h1'));
  });
  // line 1 (labour 40.00) partly approved, line 2 (part 110.00) rejected, lines 3 and 4 approved
  await fin.selectOption('#f-dec-1-how', 'partial');
  await fin.fill('#f-dec-1-amount', '45.00');
  await fin.selectOption('#f-dec-2-how', 'reject');
  await fin.click('#submit-decide');
  await check('an amount above the claimed one and a missing reason are refused at their lines', async () => {
    await fin.waitForSelector('#f-dec-1-amount-err');
    return (await fin.isVisible('#f-dec-1-reason-err')) && (await fin.isVisible('#f-dec-2-reason-err')) && !(await fin.isVisible('#f-dec-3-reason-err'));
  });
  await fin.fill('#f-dec-1-amount', '30.00');
  await fin.fill('#f-dec-1-reason', '工时超标 labour over the standard');
  await fin.fill('#f-dec-2-reason', '非三包故障 not a warranty fault');
  await check('the form adds up what is approved: 30.00 + 40.00 + 110.00', async () => /180\.00/.test(await fin.textContent('#decide-total')));
  await shot(fin, 'claim-decide', { fullPage: true });
  await fin.click('#submit-decide');
  await check('the decision is recorded: partly approved, 180.00 approved, each line with its reason', async () => {
    await fin.waitForSelector('#form-pay');
    const c = await apiAs(F, 'GET', `/v1/settlement/claims/${encodeURIComponent(claimId)}`);
    const text = await fin.textContent('#claim-decisions');
    return c.state === 'partially_approved' && c.approved_cents === 18000 && c.lines[0].approved_cents === 3000 && c.lines[1].state === 'rejected'
      && text.includes('labour over the standard') && text.includes('not a warranty fault');
  });
  await check('the payment form starts at the approved amount', async () => (await fin.inputValue('#f-pay-paid_amount')) === '180.00');
  await fin.fill('#f-pay-paid_amount', '200.00');
  await fin.click('#submit-pay');
  await check('more than approved is refused at the amount', async () => { await fin.waitForSelector('#f-pay-paid_amount-err'); return true; });
  await fin.fill('#f-pay-paid_amount', '175.00');
  await fin.fill('#f-pay-paid_date', chinaDay(3));
  await fin.click('#submit-pay');
  await check("a payment dated in the future is refused at the date, in the API's words", async () => {
    await fin.waitForSelector('#f-pay-paid_date-err');
    return /future|未来|after today/i.test(await fin.textContent('#f-pay-paid_date-err'));
  });
  await fin.fill('#f-pay-paid_date', TODAY);
  await fin.fill('#f-pay-reference', `BANK-${TAG}`);
  await fin.click('#submit-pay');
  await check('the payment is recorded: the claim is paid, its reference shown, no action left', async () => {
    await fin.waitForSelector(`text=BANK-${TAG}`);
    const c = await apiAs(F, 'GET', `/v1/settlement/claims/${encodeURIComponent(claimId)}`);
    return c.state === 'paid' && c.paid_cents === 17500 && (await fin.$$('#form-pay')).length === 0 && (await fin.$$('#form-decide')).length === 0;
  });
  await shot(fin, 'claim-paid', { fullPage: true });

  // ---- the trial balance and the export show it ---------------------------------------------
  await fin.click('#nav-finance');
  await fin.waitForSelector('#balance-table td.mono');
  await check("the month's trial balance shows the payment in cash and bank (1001), as the ledger has it", async () => {
    const cash = (await balance()).debit_cents || 0;
    if (cash - cashBefore !== 17500) throw new Error(`1001 moved by ${cash - cashBefore}`);
    const row = await fin.$$eval('#balance-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)).find((c) => c[0] === '1001'));
    return !!row && Math.round(money(row[3]) * 100) === cash;
  });
  await check('the CSV export of the month has the payment and the write-off of the shortfall', async () => {
    const href = await fin.getAttribute('#export-csv', 'href');
    const csv = await fin.evaluate(async (h) => (await fetch(h)).text(), href);
    const rows = csv.split('\r\n').filter((l) => l.includes(claimId));
    return rows.some((l) => /,1001,/.test(l) && /,175\.00,/.test(l)) && rows.some((l) => /,6602,/.test(l) && /,5\.00,/.test(l));
  });
  await check("the period's warranty cost is charted by cause and by region, as the cost analysis has it", async () => {
    const M = TODAY.slice(0, 7);
    const to = new Date(Date.UTC(Number(M.slice(0, 4)), Number(M.slice(5, 7)), 0)).toISOString().slice(0, 10);
    const costs = await apiAs(F, 'GET', `/v1/settlement/costs?group=cause&from=${M}-01&to=${to}`);
    const other = costs.rows.find((r) => r.key === 'other');
    const fmt = (c) => `¥${(c / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    await fin.waitForSelector('#chart-cost-cause');
    await fin.waitForSelector('#chart-cost-region');
    // this run's two repairs (300.00 claimed) are in the cause "other"
    return other.warranty_cost_cents >= 30000 && (await fin.textContent('#chart-cost-cause')).includes(fmt(other.warranty_cost_cents))
      && (await fin.textContent('#cost-total')).includes(fmt(costs.total.warranty_cost_cents));
  });
  await shot(fin, 'finance-paid', { fullPage: true });

  // ---- accounting periods ------------------------------------------------------------------
  await fin.click('#nav-periods');
  await fin.waitForSelector(`#period-${TODAY.slice(0, 7)}`);
  await check('the running month is listed open, with its entries, and cannot be closed', async () =>
    (await fin.$$(`#close-${TODAY.slice(0, 7)}`)).length === 0 && /进行中|running/.test(await fin.textContent(`#period-${TODAY.slice(0, 7)}`)));
  await fin.fill('#f-per-period', TODAY.slice(0, 7));
  await fin.click('#close-other');
  await check("closing the running month is refused beside the button, in the API's words", async () => {
    await fin.waitForSelector('#form-close .inline-error');
    return /not ended|尚未/.test(await fin.textContent('#form-close .inline-error'));
  });
  const OLD = `2003-0${1 + Math.floor(Math.random() * 9)}`;
  await fin.fill('#f-per-period', OLD);
  await fin.click('#close-other');
  await check('a past month is closed and listed closed, by whom', async () => {
    await fin.waitForSelector('#per-msg');
    await fin.waitForSelector(`#period-${OLD}`);
    const text = await fin.textContent(`#period-${OLD}`);
    const p = (await apiAs(F, 'GET', '/v1/settlement/periods')).periods.find((x) => x.period === OLD);
    return p.state === 'closed' && /已结账|closed/.test(text) && text.includes(process.env.AS_FINANCE_LOGIN || 'finance');
  });
  await shot(fin, 'periods', { fullPage: true });
  await fin.fill('#f-per-period', OLD);
  await fin.click('#close-other');
  await check('closing it again is refused beside the button', async () => {
    await fin.waitForSelector('#form-close .inline-error');
    return /already closed|已/.test(await fin.textContent('#form-close .inline-error'));
  });

  await check('no script error on any page', async () => {
    if (pageErrors.length) throw new Error(pageErrors.join(' | '));
    return true;
  });
} catch (e) {
  notOk('the browser scenario ran to its end', e.stack || e);
} finally {
  await browser.close();
}
process.exit(failures() ? 1 : 0);
