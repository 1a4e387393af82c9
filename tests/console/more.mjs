// tests/console/more.mjs — the console's further screens (issue 18) in a real browser (Debian's
// chromium, playwright-core from build/npm) against the test stack: customers (search by phone
// and name prefix, the customer's page, consent / tier / address changed), the hotline (a call
// recorded, a repair request that opens its ticket, a complaint call, the log and the
// statistics' charts), promised deadlines (the lists, the per-centre report, a service level set
// and removed by the administrator), the quality report and its CSV, the customers'
// notifications (outbox, opt-out and opt-in), the integrators' webhooks (created, paused,
// resumed, deliveries, deleted), a manufacturer claim's page and its printed A4 claim form, an
// on-site service order through its life with its printed field-service record and the
// technicians' workload, and the station scorecard.
// Prints TAP lines and saves a screenshot per screen into docs/console/.
import { execFileSync } from 'node:child_process';
import {
  ROOT, U, notOk, check, newImei, chinaDay, apiAs, rnd, phone, surname, ticketBody, waitState, browser, pageErrors, newPage, signIn, shot, C, A, F, CENTER, CENTER_B, failures,
} from './lib.mjs';

try {
  // A customer with a covered repair done: the customer record, a device with its history, and
  // a warranty line on the manufacturer's open claim.
  const tk = await apiAs(C, 'POST', '/v1/tickets', ticketBody(`${surname}客户`, 40));
  await waitState(C, tk.id, ['adjudicated']);
  await apiAs(C, 'POST', `/v1/tickets/${tk.id}/diagnosis`, { fault_code: 'NO_DISPLAY', labour_code: 'L-SCREEN' });
  await apiAs(C, 'POST', `/v1/tickets/${tk.id}/repair-complete`, { labour_code: 'L-SCREEN', labour_minutes: 30 });
  const opened = await apiAs(C, 'GET', `/v1/tickets/${tk.id}`);

  // ---- customers ---------------------------------------------------------------------------
  const desk = await newPage();
  await signIn(desk, 'CENTER');
  await check('the centre desk has the customers, hotline, promises, quality and notifications menus but not webhooks', async () =>
    (await desk.isVisible('#nav-customers')) && (await desk.isVisible('#nav-calls')) && (await desk.isVisible('#nav-promises'))
      && (await desk.isVisible('#nav-quality')) && (await desk.isVisible('#nav-notifications')) && !(await desk.isVisible('#nav-webhooks')));
  await desk.click('#nav-customers');
  await desk.fill('#f-cu-phone', '13x');
  await desk.click('#cu-search');
  await check('a phone prefix with a letter is refused at its field', async () => {
    await desk.waitForSelector('#f-cu-phone-err');
    return (await desk.$$('#customers-table')).length === 0;
  });
  await desk.fill('#f-cu-phone', phone.slice(0, 9));
  await desk.click('#cu-search');
  await check('a phone prefix finds the customer', async () => {
    await desk.waitForSelector(`#customers-table >> text=${surname}客户`);
    return true;
  });
  await desk.fill('#f-cu-phone', '');
  await desk.fill('#f-cu-name', surname);
  await desk.click('#cu-search');
  await check('a name prefix finds the same customer, and only that one', async () => {
    await desk.waitForSelector(`#customers-table >> text=${phone}`);
    return (await desk.$$('#customers-table tbody tr')).length === 1;
  });
  await desk.click(`#customers-table a.mono`);
  await check("the customer's page shows the record, the device with its repair history and the tickets", async () => {
    await desk.waitForSelector('#cu-record');
    await desk.waitForSelector(`#cu-devices >> text=${tk.id}`);
    return (await desk.textContent('#cu-record')).includes(phone) && (await desk.textContent('#cu-tickets')).includes(tk.id)
      && (await desk.textContent('#cu-devices')).includes('HX-10');
  });
  await check('the customer id is the one the ticket names', async () => (await desk.textContent('#customer-id')).trim() === opened.customer_id);
  await desk.selectOption('#f-cu-edit-tier', 'key');
  await desk.fill('#f-cu-edit-account_owner', '');
  await desk.click('#submit-cu-edit');
  await check('a key account without an account owner is refused at its field', async () => {
    await desk.waitForSelector('#f-cu-edit-account_owner-err');
    return (await apiAs(A, 'GET', `/v1/customers/${opened.customer_id}`)).tier !== 'key';
  });
  await desk.fill('#f-cu-edit-account_owner', '李经理');
  await desk.fill('#f-cu-edit-address', '上海市浦东新区测试路 1 号');
  await desk.check('#f-cu-consent-sms');
  await desk.click('#submit-cu-edit');
  await check('tier, account owner, address and consent are saved through the API', async () => {
    await desk.waitForSelector('#cu-msg');
    const c = await apiAs(A, 'GET', `/v1/customers/${opened.customer_id}`);
    return c.tier === 'key' && c.account_owner === '李经理' && /测试路/.test(c.address) && c.consent && c.consent.sms === true;
  });
  await check('the page shows the new tier', async () => { await desk.waitForSelector('#cu-record >> text=李经理'); return /重点客户/.test(await desk.textContent('#cu-record')); });
  await shot(desk, 'customer', { fullPage: true });
  await desk.goto(`${U}/console/#/tickets/${tk.id}`);
  await check("the ticket links its customer's page and shows the key account", async () => {
    await desk.waitForSelector('#ticket-customer');
    return (await desk.textContent('#ticket-customer')).trim() === opened.customer_id && /李经理/.test(await desk.textContent('#main'));
  });
  await desk.click('#ticket-customer');
  await desk.waitForSelector('#cu-record');

  // ---- hotline -------------------------------------------------------------------------------
  await desk.click('#nav-calls');
  await desk.waitForSelector('#form-call');
  await desk.fill('#f-call-summary', '');
  await desk.click('#submit-call');
  await check('a call without a summary is refused at its field', async () => { await desk.waitForSelector('#f-call-summary-err'); return true; });
  await desk.selectOption('#f-call-category', 'consultation');
  await desk.fill('#f-call-name', `${surname}来电`);
  await desk.fill('#f-call-phone', phone);
  await desk.fill('#f-call-summary', `屏幕维修要多久 ${surname}`);
  await desk.fill('#f-call-duration', '95');
  await desk.click('#submit-call');
  await check('a consultation call is recorded and listed', async () => {
    await desk.waitForSelector('#call-msg');
    await desk.waitForSelector(`#calls-table >> text=屏幕维修要多久 ${surname}`);
    return true;
  });
  await desk.fill('#f-call-ticket_id', 'T99999999');
  await desk.fill('#f-call-summary', '查询进度');
  await desk.click('#submit-call');
  await check("an unknown ticket is refused in the API's words", async () => {
    await desk.waitForSelector('#form-call .alert-error, #f-call-ticket_id-err');
    return /T99999999|unknown|未找到|ticket/i.test(await desk.textContent('#form-call'));
  });
  await desk.fill('#f-call-ticket_id', '');
  await desk.selectOption('#f-call-category', 'repair_request');
  await desk.fill('#f-call-name', `${surname}报修`);
  await desk.fill('#f-call-phone', phone);
  await desk.fill('#f-call-summary', '手机黑屏，要求上门取件');
  await desk.fill('#f-call-brand', 'Huaxin');
  await desk.fill('#f-call-model', '');
  await desk.fill('#f-call-fault_code', 'NO_DISPLAY');
  await desk.fill('#f-call-imei', newImei());
  await desk.fill('#f-call-invoice_date', chinaDay(-20));
  await desk.fill('#f-call-price', '3999');
  await desk.click('#submit-call');
  await check("a repair request's ticket without a model is refused at its field", async () => { await desk.waitForSelector('#f-call-model-err'); return true; });
  await desk.fill('#f-call-model', 'HX-10');
  await desk.click('#submit-call');
  let callTicket = '';
  await check('a repair request call opens its ticket in the same step', async () => {
    await desk.waitForSelector('#call-ticket-link');
    callTicket = (await desk.textContent('#call-ticket-link')).trim();
    const t2 = await apiAs(C, 'GET', `/v1/tickets/${callTicket}`);
    return t2.customer.phone === phone && t2.device.model === 'HX-10';
  });
  await desk.selectOption('#f-call-category', 'complaint');
  await desk.fill('#f-call-name', `${surname}投诉`);
  await desk.fill('#f-call-phone', phone);
  await desk.fill('#f-call-summary', '对维修时间不满意');
  await desk.selectOption('#f-call-cause', 'overdue');
  await desk.fill('#f-call-cdesc', '');
  await desk.click('#submit-call');
  await check("a complaint call without the complaint's description is refused at its field", async () => { await desk.waitForSelector('#f-call-cdesc-err'); return true; });
  await desk.fill('#f-call-cdesc', '维修超过承诺时间');
  await desk.click('#submit-call');
  await check('a complaint call opens the complaint (linked, or on its way)', async () => {
    // #call-msg already shows the repair request's call: wait for this call's own message
    await desk.waitForFunction(() => /已立投诉|投诉正在建立/.test(document.querySelector('#call-msg')?.textContent || ''));
    return true;
  });
  await check('the statistics draw the calls by category and by hour', async () => {
    await desk.waitForSelector('#chart-categories rect');
    await desk.waitForSelector('#chart-hours rect');
    return /报修/.test(await desk.textContent('#chart-categories')) && (await desk.textContent('#calls-by-center')).includes(CENTER);
  });
  await desk.fill('#f-cf-q', surname);
  await desk.click('#call-search');
  await check("the call log's text filter finds this run's calls only", async () => {
    await desk.waitForSelector(`#calls-table >> text=${surname}报修`);
    const rows = await desk.$$eval('#calls-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    return rows.length >= 3 && rows.every((r) => r.includes(surname));
  });
  await desk.fill('#f-cf-q', '');
  await desk.fill('#f-cf-from', '2026-13-01');
  await desk.click('#call-search');
  await check("an impossible date is refused at its field in the API's words", async () => { await desk.waitForSelector('#f-cf-from-err'); return true; });
  await desk.fill('#f-cf-from', '');
  await desk.click('#call-search');
  await desk.waitForSelector(`#calls-table >> text=${surname}报修`);
  await shot(desk, 'hotline', { fullPage: true });
  await desk.click('#lang-switch');
  await check('the hotline reads in English, categories and outcomes too', async () => {
    await desk.waitForSelector('#main >> text=Call log');
    const text = await desk.textContent('#main');
    return /repair request/.test(text) && /answered/.test(text) && !/通话记录/.test(text);
  });
  await desk.click('#lang-switch');
  await desk.waitForSelector('#main >> text=通话记录');

  // ---- promised deadlines ----------------------------------------------------------------------
  await desk.click('#nav-promises');
  await check('the desk sees the running promises, the per-centre report and the service levels, without the edit form', async () => {
    await desk.waitForSelector('#promise-report td.mono');
    await desk.waitForSelector('#default-hours');
    return (await desk.textContent('#promise-report')).includes(CENTER) && !(await desk.isVisible('#add-level'));
  });
  const adm = await newPage();
  await signIn(adm, 'ADMIN');
  await adm.click('#nav-promises');
  await adm.waitForSelector('#default-hours');
  await adm.click('#add-level');
  await adm.fill('#f-sl-center', CENTER_B);
  await adm.selectOption('#f-sl-category', 'general');
  await adm.fill('#f-sl-hours', 'abc');
  await adm.click('#submit-sl');
  await check('hours that are not a number are refused at their field', async () => { await adm.waitForSelector('#f-sl-hours-err'); return true; });
  await adm.fill('#f-sl-hours', '100');
  await adm.click('#submit-sl');
  await check('the administrator sets a service level and it is listed', async () => {
    await adm.waitForSelector('#sl-msg');
    await adm.waitForSelector(`#levels-table >> text=${CENTER_B}`);
    const l = await apiAs(A, 'GET', '/v1/service-levels');
    return (l.levels || []).some((x) => x.center === CENTER_B && x.category === 'general' && x.hours === 100);
  });
  await shot(adm, 'promises', { fullPage: true });
  await adm.fill('#f-sl-center', CENTER_B);
  await adm.selectOption('#f-sl-category', 'general');
  await adm.fill('#f-sl-hours', '0');
  await adm.click('#submit-sl');
  await check('hours 0 remove the level again', async () => {
    await adm.waitForFunction((c) => !document.querySelector('#levels-table').textContent.includes(c), CENTER_B);
    const l = await apiAs(A, 'GET', '/v1/service-levels');
    return !(l.levels || []).some((x) => x.center === CENTER_B && x.category === 'general');
  });

  // ---- quality report --------------------------------------------------------------------------
  const reg = await newPage();
  await signIn(reg, 'REGION');
  await check('a region manager gets the quality report and hotline but not customers or webhooks', async () =>
    (await reg.isVisible('#nav-quality')) && (await reg.isVisible('#nav-calls')) && !(await reg.isVisible('#nav-customers')) && !(await reg.isVisible('#nav-webhooks')));
  await reg.click('#nav-quality');
  await check('the quality report counts the completed repairs by brand, model, fault and month', async () => {
    await reg.waitForSelector('#quality-summary');
    await reg.waitForSelector('#q-by_fault_code td.mono');
    return Number(await reg.textContent('#quality-repairs')) >= 1 && /NO_DISPLAY/.test(await reg.textContent('#q-by_fault_code'))
      && /Huaxin|HUAXIN/i.test(await reg.textContent('#q-by_brand')) && (await reg.$$('#chart-months rect')).length >= 1;
  });
  await check('the CSV export link downloads the same report as CSV', async () => {
    const href = await reg.getAttribute('#quality-csv', 'href');
    const text = await reg.evaluate(async (h) => (await fetch(h)).text(), href);
    return /^\/v1\/reports\/quality\/csv\?/.test(href) && /dimension,key,count,previous,change_pct/.test(text) && /NO_DISPLAY/.test(text);
  });
  await shot(reg, 'quality', { fullPage: true });
  await reg.fill('#f-q-from', '2026-02-30');
  await reg.click('#quality-search');
  await check("an impossible date is refused at its field in the API's words", async () => { await reg.waitForSelector('#f-q-from-err'); return true; });
  await reg.goto(`${U}/console/#/customers`);
  await check('a region manager cannot reach the customers by URL', async () => { await reg.waitForSelector('#not-found'); return true; });

  // ---- notifications ---------------------------------------------------------------------------
  await desk.click('#nav-notifications');
  await check('the desk sees the notification outbox and the stop / resume form', async () => {
    await desk.waitForSelector('#notifications-table tbody tr');
    return await desk.isVisible('#form-opt');
  });
  await desk.fill('#f-opt-phone', '12345');
  await desk.click('#opt-out');
  await check('a malformed phone is refused at its field', async () => { await desk.waitForSelector('#f-opt-phone-err'); return true; });
  await desk.fill('#f-opt-phone', phone);
  await desk.fill('#f-opt-note', '客户来电要求');
  await desk.click('#opt-out');
  await check("the customer's notifications are stopped", async () => {
    await desk.waitForSelector('#opt-msg');
    return /已停发/.test(await desk.textContent('#opt-msg'));
  });
  await shot(desk, 'notifications', { fullPage: true });
  await desk.click('#opt-in');
  await check("and resumed", async () => {
    await desk.waitForSelector('#opt-msg >> text=已恢复');
    return true;
  });
  await reg.goto(`${U}/console/#/notifications`);
  await check('a region manager reads the outbox without the stop / resume form', async () => {
    await reg.waitForSelector('#notifications-table');
    return !(await reg.isVisible('#form-opt'));
  });

  // ---- webhooks (admin) --------------------------------------------------------------------------
  await adm.click('#nav-webhooks');
  await adm.waitForSelector('#form-wh');
  // The receiver's name is under .invalid (never resolves): the subscription is paused at once
  // and deleted at the end, so nothing is ever sent anywhere.
  const hookUrl = `https://erp-${rnd(6)}.invalid/hooks/aftersales`;
  await adm.fill('#f-wh-url', 'http://127.0.0.1:9/hook');
  await adm.fill('#f-wh-event_types', 'surveys.CallbackScheduled');
  await adm.fill('#f-wh-secret', 'short');
  await adm.click('#submit-wh');
  await check('a short secret is refused at its field', async () => { await adm.waitForSelector('#f-wh-secret-err'); return true; });
  await adm.fill('#f-wh-secret', `s3cret-${rnd(12)}-abcdef`);
  await adm.click('#submit-wh');
  await check("a loopback receiver is refused at its field in the API's words", async () => {
    await adm.waitForSelector('#f-wh-url-err');
    return /loopback|private/.test(await adm.textContent('#f-wh-url-err'));
  });
  await adm.fill('#f-wh-url', hookUrl);
  await adm.fill('#f-wh-description', 'ERP 测试');
  await adm.click('#submit-wh');
  let hookId = '';
  await check('the administrator subscribes a webhook and it is listed as active', async () => {
    await adm.waitForSelector('#wh-msg');
    const hooks = await apiAs(A, 'GET', '/v1/webhooks');
    const h = hooks.webhooks.find((w) => w.url === hookUrl);
    hookId = h.id;
    await adm.waitForSelector(`#wh-${hookId}`);
    return h.state === 'active';
  });
  await adm.click(`#pause-${hookId}`);
  await check('pausing it is the API\'s pause', async () => {
    await adm.waitForSelector(`#resume-${hookId}`);
    return (await apiAs(A, 'GET', `/v1/webhooks/${hookId}`)).state === 'paused';
  });
  await adm.click(`#show-dlv-${hookId}`);
  await check('its delivery log opens', async () => { await adm.waitForSelector(`#deliveries-${hookId} table`); return true; });
  await shot(adm, 'webhooks', { fullPage: true });
  await adm.click(`#resume-${hookId}`);
  await check('resumed', async () => {
    await adm.waitForSelector(`#pause-${hookId}`);
    return (await apiAs(A, 'GET', `/v1/webhooks/${hookId}`)).state === 'active';
  });
  await adm.click(`#delete-${hookId}`);
  await check('deleted: nothing more is sent and it leaves the list', async () => {
    await adm.waitForSelector(`#wh-${hookId}`, { state: 'detached' });
    const s = await fetch(`${U}/v1/webhooks/${hookId}`, { headers: { Authorization: `Bearer ${A}` } });
    return s.status === 404 || (await s.json()).state === 'deleted';
  });
  await desk.goto(`${U}/console/#/webhooks`);
  await check('the desk cannot reach the webhooks by URL', async () => { await desk.waitForSelector('#not-found'); return true; });

  // ---- a manufacturer claim: its page and the printed form ------------------------------------------
  let claimId = '';
  for (let i = 0; i < 40 && !claimId; i++) {
    const list = await apiAs(F, 'GET', '/v1/settlement/claims?state=open&limit=200');
    for (const c of list.claims || []) {
      const full = await apiAs(F, 'GET', `/v1/settlement/claims/${encodeURIComponent(c.id)}`);
      if ((full.lines || []).some((l) => l.ticket_id === tk.id)) claimId = c.id;
    }
    if (!claimId) await new Promise((r) => setTimeout(r, 250));
  }
  const fin = await newPage();
  await signIn(fin, 'FINANCE');
  await fin.click('#nav-finance');
  await fin.waitForSelector('#claims-table');
  await fin.goto(`${U}/console/#/claims/${encodeURIComponent(claimId)}`);
  await check("a claim's page lists its lines (this repair's among them), state and history", async () => {
    await fin.waitForSelector('#claim-lines td.mono');
    return (await fin.textContent('#claim-lines')).includes(tk.id) && /建立/.test(await fin.textContent('#claim-history'))
      && (await fin.textContent('#claim-id')).trim() === claimId;
  });
  await shot(fin, 'claim', { fullPage: true });
  await fin.click('#print-claim');
  await check('the claim form prints on A4 with the claim number, the manufacturer, the lines and a QR code', async () => {
    await fin.waitForSelector('#doc-claim-lines');
    await fin.emulateMedia({ media: 'print' });
    const visible = await fin.isVisible('#doc') && !(await fin.isVisible('.print-toolbar'));
    await fin.emulateMedia({ media: 'screen' });
    return visible && (await fin.textContent('#doc-claim')).trim() === claimId && (await fin.textContent('#doc-claim-lines')).includes(tk.id)
      && (await fin.$$('#qr path')).length === 1;
  });
  await shot(fin, 'claim-a4', { fullPage: true });
  await desk.goto(`${U}/console/#/claims/${encodeURIComponent(claimId)}`);
  await check("the desk cannot open a claim's page", async () => { await desk.waitForSelector('#not-found'); return true; });

  // ---- the complaints board's red row: a complaint whose acknowledge deadline has passed -------
  // No test clock: the shortest deadline (critical, 1 h) is too long to wait for, so the
  // deadline is moved into the past in the database, as surveys_privacy.sh does; the timer
  // acts on next_check_at, which stays. Acknowledged at the end: nothing is left overdue.
  const late = await apiAs(C, 'POST', '/v1/complaints', { channel: 'walk_in', cause: 'attitude', description: `逾期测试 ${surname}`,
    customer_name: `${surname}投诉`, customer_phone: phone });
  execFileSync(`${ROOT}/deploy/local/stack.sh`, ['psql', 'surveys', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c',
    `UPDATE complaint_deadlines SET due_at = now() - interval '2 hours' WHERE complaint_id = '${late.id}' AND kind = 'acknowledge'`], { stdio: 'pipe' });
  await desk.goto(`${U}/console/#/complaints`);
  await check('a complaint past its acknowledge deadline is a red row on the board, "overdue by" its time', async () => {
    await desk.waitForSelector(`#cp-${late.id}`);
    const cls = await desk.getAttribute(`#cp-${late.id}`, 'class');
    const text = await desk.textContent(`#cp-${late.id}`);
    return /row-overdue/.test(cls) && /已超时 2 小时/.test(text) && /已超时/.test(await desk.textContent(`#cp-${late.id} .overdue`));
  });
  await desk.check('#f-cp-overdue');
  await desk.click('#cp-search');
  await check('the "overdue only" filter keeps it', async () => {
    await desk.waitForFunction((id) => { const rows = [...document.querySelectorAll('#complaints-table tbody tr')];
      return rows.some((tr) => tr.id === `cp-${id}`) && rows.every((tr) => tr.classList.contains('row-overdue')); }, late.id);
    return true;
  });
  await desk.evaluate((id) => document.getElementById(`cp-${id}`).scrollIntoView({ block: 'center' }), late.id);
  await shot(desk, 'complaints-overdue');
  await apiAs(C, 'POST', `/v1/complaints/${late.id}/acknowledge`, { note: 'test done' });

  // ---- on-site service: an order through its life, the workload, the field-service record ------
  const techLogin = `tech.${rnd(6)}`;
  // a technician is a staff login of the centre (people); intake learns it from the people stream
  await apiAs(A, 'POST', '/v1/users', { login: techLogin, display_name: `技师${rnd(3)}`, role: 'center', site: CENTER, password: 'Workshop-pass-2026!' });
  for (let i = 0; ; i++) {
    try {
      await apiAs(C, 'POST', '/v1/technicians', { login: techLogin, name: `技师${rnd(3)}`, center: CENTER, skills: ['general'], active: true });
      break;
    } catch (e) {
      if (i >= 100 || !String(e.message).includes('unknown_technician')) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const soDay = chinaDay(1);
  const so = await apiAs(C, 'POST', '/v1/service-orders', { customer: { name: `${surname}上门`, phone }, address: '淮海路 88 号', category: 'general',
    fault: '漏水', window_start: `${soDay}T09:00:00+08:00`, window_end: `${soDay}T11:00:00+08:00` });
  await desk.click('#nav-onsite');
  await desk.selectOption('#f-so-state', 'requested');
  await desk.fill('#f-so-date', soDay);
  await desk.click('#so-search');
  await check("the on-site list finds the new order by state and appointment date, with its response promise", async () => {
    await desk.waitForSelector(`#so-${so.id}`);
    return (await desk.textContent(`#so-${so.id}`)).includes(`${surname}上门`);
  });
  await shot(desk, 'onsite');
  await desk.click(`#so-${so.id} a`);
  await desk.waitForSelector('#form-so-schedule');
  await desk.click('#submit-so-schedule');
  await check('scheduling without a technician is refused at the field', async () => { await desk.waitForSelector('#f-so-schedule-technician-err'); return true; });
  await check("the technician list offers the new technician (skill of the order's category)", async () =>
    (await desk.$$(`#f-so-schedule-technician option[value="${techLogin}"]`)).length === 1);
  await desk.selectOption('#f-so-schedule-technician', techLogin);
  await desk.fill('#f-so-schedule-window_start', `${soDay} 25:00`);
  await desk.click('#submit-so-schedule');
  await check('an impossible time of a new window is refused at its field', async () => { await desk.waitForSelector('#f-so-schedule-window_start-err'); return true; });
  await desk.fill('#f-so-schedule-window_start', '');
  await desk.click('#submit-so-schedule');
  await desk.waitForSelector('#so-dispatch');
  await desk.click('#so-dispatch');
  await desk.waitForSelector('#so-check-in');
  await desk.click('#so-check-in');
  await desk.waitForSelector('#form-so-checkout');
  await desk.fill('#f-so-checkout-work_done', '更换水泵');
  await desk.fill('#f-so-checkout-distance_km', '12,5km');
  await desk.click('#submit-so-checkout');
  await check('a malformed distance is refused at its field', async () => { await desk.waitForSelector('#f-so-checkout-distance_km-err'); return true; });
  await desk.fill('#f-so-checkout-distance_km', '12.5');
  await desk.click('#submit-so-checkout');
  await desk.waitForSelector('#form-so-confirm');
  await desk.fill('#f-so-confirm-confirmed_by', `${surname}上门`);
  await desk.click('#submit-so-confirm');
  await check('scheduled, dispatched, checked in, checked out and confirmed from the order page (checked through the API)', async () => {
    await desk.waitForSelector('#so-no-step');
    const o = await apiAs(C, 'GET', `/v1/service-orders/${so.id}`);
    return o.state === 'confirmed' && o.technician === techLogin && o.distance_km === 12.5 && o.work_done === '更换水泵'
      && (await desk.textContent('#so-timeline')).includes('客户已确认');
  });
  await shot(desk, 'onsite-order', { fullPage: true });
  await desk.click('#so-print');
  await check('the field-service record prints on A4 with the order number, the work done and a QR code', async () => {
    await desk.waitForSelector('#doc-order');
    await desk.emulateMedia({ media: 'print' });
    const visible = await desk.isVisible('#doc') && !(await desk.isVisible('.print-toolbar'));
    await desk.emulateMedia({ media: 'screen' });
    return visible && (await desk.textContent('#doc-order')).trim() === so.id && (await desk.textContent('#doc')).includes('更换水泵')
      && (await desk.$$('#qr path')).length === 1;
  });
  await shot(desk, 'onsite-a4', { fullPage: true });
  await desk.goto(`${U}/console/#/onsite`);
  await desk.fill('#f-wl-date', soDay);
  await desk.click('#workload-search');
  await check("the technicians' workload of the day shows the new technician with the order", async () => {
    await desk.waitForSelector(`#workload-table >> text=${so.id}`);
    return true;
  });

  // ---- the station scorecard -------------------------------------------------------------------
  const sc = await newPage();
  await signIn(sc, 'REGION');
  await sc.click('#nav-scorecard');
  await check('the region manager reads the scorecard: a table per region, rank, score and the nine metrics (a null one with its reason)', async () => {
    await sc.waitForSelector('.sc-table tbody tr');
    const heads = await sc.$$eval('.sc-table thead th', (th) => th.length);
    const rows = await sc.$$eval('.sc-table tbody tr', (tr) => tr.map((r) => r.children.length));
    return heads === 14 && rows.every((n) => n === 14);
  });
  await check('a metric without data shows its reason', async () => {
    const r = await apiAs(A, 'GET', `/v1/reports/scorecard?from=${chinaDay(-29)}&to=${chinaDay(0)}`);
    const nulls = r.rows.flatMap((x) => x.metrics).filter((m) => m.value === undefined || m.value === null).length;
    return nulls === 0 || (await sc.$$('.sc-null .sc-why')).length > 0;
  });
  await shot(sc, 'scorecard', { fullPage: true });
  await sc.fill('#f-sc-from', '2026-02-30');
  await sc.click('#sc-search');
  await check('an impossible date is refused at its field', async () => { await sc.waitForSelector('#f-sc-from-err'); return true; });
  await check('the desk has the on-site and scorecard menus; finance the scorecard but not on-site service', async () => {
    const fin2 = await newPage();
    await signIn(fin2, 'FINANCE');
    const r = (await fin2.isVisible('#nav-scorecard')) && !(await fin2.isVisible('#nav-onsite'))
      && (await desk.isVisible('#nav-onsite')) && (await desk.isVisible('#nav-scorecard'));
    await fin2.close();
    return r;
  });

  // ---- the new screens on a phone ------------------------------------------------------------
  const phoneDesk = await newPage({ width: 390, height: 844 });
  await signIn(phoneDesk, 'CENTER');
  for (const [screen, sel] of [['customers', '#cu-filters'], ['calls', '#calls-by-center'], ['promises', '#levels-table'], ['quality', '#quality-summary'], ['notifications', '#notifications-table']]) {
    await phoneDesk.goto(`${U}/console/#/${screen}`);
    await check(`the ${screen} screen fits a 390 px phone`, async () => {
      await phoneDesk.waitForSelector(sel);
      await phoneDesk.waitForTimeout(300);
      return phoneDesk.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    });
  }
  await phoneDesk.goto(`${U}/console/#/calls`);
  await phoneDesk.waitForSelector('#chart-hours');
  await shot(phoneDesk, 'hotline-phone');

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
