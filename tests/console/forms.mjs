// tests/console/forms.mjs — the console's forms of issues 18 and 19 in a real browser (Debian's
// chromium, playwright-core from build/npm) against the test stack: the administrator registers
// a technician with a staff account (field errors from the console and from the API), the desk
// opens an on-site service order (field errors next to the fields, an unknown ticket refused in
// the API's words), schedules it with that technician and dispatches it; the administrator reads
// the scorecard weight versions, adds one (a wrong sum and malformed bands refused at their
// fields) and sees each centre's market-maintenance reward computed by the rule of the period's
// weights; finance reads the weights without the form; the call-back desk's list shows the
// quality-tracking call and the maintenance reminder with their own labels and scripts, and one
// is marked done. Prints TAP lines and saves a screenshot per screen into docs/console/.
import { execFileSync } from 'node:child_process';
import {
  ROOT, U, notOk, check, chinaDay, apiAs, rnd, phone, surname, ticketBody, waitState, browser, pageErrors, newPage, signIn, shot, C, A, CENTER, failures,
} from './lib.mjs';


try {
  // ---- a technician registered with a staff account (admin) -----------------------------------
  const techLogin = `wu.${rnd(6)}`;
  const techName = `吴${rnd(3)}`;
  const admin = await newPage();
  await signIn(admin, 'ADMIN');
  await admin.goto(`${U}/console/#/onsite`);
  await admin.waitForSelector('#tech-table');
  await admin.click('#tech-add-open');
  await admin.uncheck('#f-tech-skill-general');
  await admin.click('#submit-tech');
  await check('registering a technician with nothing filled in: errors at the login, name, centre and skills', async () => {
    for (const f of ['login', 'name', 'center', 'skills']) await admin.waitForSelector(`#f-tech-${f}-err`);
    return true;
  });
  await admin.fill('#f-tech-login', 'Wu Gang!');
  await admin.fill('#f-tech-name', techName);
  await admin.fill('#f-tech-center', CENTER);
  await admin.check('#f-tech-skill-general');
  await admin.check('#f-tech-skill-car');
  await admin.check('#f-tech-account');
  await admin.fill('#f-tech-password', 'short');
  await admin.click('#submit-tech');
  await check('a malformed login and a short password are refused at their fields', async () => {
    await admin.waitForSelector('#f-tech-login-err');
    await admin.waitForSelector('#f-tech-password-err');
    return !(await admin.$('#f-tech-skills-err'));
  });
  await admin.evaluate(() => document.getElementById('form-tech').scrollIntoView({ block: 'center' }));
  await shot(admin, 'technician-errors');
  await admin.fill('#f-tech-login', techLogin);
  await admin.fill('#f-tech-password', 'aaaaaaaaaaaa');
  await admin.click('#submit-tech');
  await check("a weak password is refused at its field in the people service's words, and nothing is created", async () => {
    await admin.waitForSelector('#f-tech-password-err');
    const users = await apiAs(A, 'GET', `/v1/users?site=${CENTER}`);
    const techs = await apiAs(A, 'GET', `/v1/technicians?center=${CENTER}`);
    return !(users.users || []).some((u) => u.login === techLogin) && !(techs.technicians || []).some((x) => x.login === techLogin);
  });
  await admin.fill('#f-tech-password', `Qx7-${rnd(4)}-Tech`);
  await admin.click('#submit-tech');
  await check('the technician is registered with a staff account of the centre (role centre), skills and region (checked through the API)', async () => {
    await admin.waitForSelector(`#tech-${techLogin.replace('.', '\\.')}`);
    const u = await apiAs(A, 'GET', `/v1/users/${techLogin}`);
    const x = ((await apiAs(A, 'GET', `/v1/technicians?center=${CENTER}`)).technicians || []).find((y) => y.login === techLogin);
    return u.role === 'center' && u.site === CENTER && u.display_name === techName && !!x && x.name === techName
      && [...x.skills].sort().join(',') === 'car,general' && !!x.region && x.active !== false
      && (await admin.textContent('#tech-msg')).includes(techLogin);
  });
  await admin.click(`#tech-edit-${techLogin.replace('.', '\\.')}`);
  // the form takes the technician in a moment: wait for its skills before changing them
  await admin.waitForFunction(() => document.querySelector('#f-tech-skill-car')?.checked === true);
  await admin.uncheck('#f-tech-skill-car');
  await admin.waitForFunction(() => document.querySelector('#f-tech-skill-car')?.checked === false);
  await admin.click('#submit-tech');
  await check('the technician is changed from the list (one skill taken away)', async () => {
    for (let i = 0; i < 120; i++) {
      const x = ((await apiAs(A, 'GET', `/v1/technicians?center=${CENTER}`)).technicians || []).find((y) => y.login === techLogin);
      if (x && x.skills.join(',') === 'general') return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  });
  await admin.evaluate(() => document.getElementById('tech-table').scrollIntoView({ block: 'center' }));
  await shot(admin, 'onsite-technicians');

  // ---- the desk opens an on-site order, schedules it with the technician, dispatches it --------
  const desk = await newPage();
  await signIn(desk, 'CENTER');
  await desk.click('#nav-onsite');
  await desk.click('#so-new-open');
  await desk.click('#submit-so-new');
  await check('an empty order is refused at its fields: customer, phone, address, fault, window', async () => {
    for (const f of ['customer-name', 'customer-phone', 'address', 'fault', 'window_start', 'window_end']) await desk.waitForSelector(`#f-so-new-${f}-err`);
    return true;
  });
  const day = chinaDay(2);
  const customer = `上门${rnd(4)}`;
  await desk.fill('#f-so-new-customer-name', customer);
  await desk.fill('#f-so-new-customer-phone', '1371234');
  await desk.fill('#f-so-new-address', '上海市淮海中路 88 号 1201 室');
  await desk.selectOption('#f-so-new-category', 'general');
  await desk.fill('#f-so-new-brand', 'Huaxin');
  await desk.fill('#f-so-new-fault', '洗衣机漏水');
  await desk.fill('#f-so-new-window_start', `${day} 14:00`);
  await desk.fill('#f-so-new-window_end', `${day} 10:00`);
  await desk.fill('#f-so-new-ticket_id', 'T99999999');
  await desk.click('#submit-so-new');
  await check('a short phone and a window ending before it starts are refused at their fields', async () => {
    await desk.waitForSelector('#f-so-new-customer-phone-err');
    await desk.waitForSelector('#f-so-new-window_end-err');
    return !(await desk.$('#f-so-new-address-err'));
  });
  await shot(desk, 'onsite-new');
  await desk.fill('#f-so-new-customer-phone', phone);
  await desk.fill('#f-so-new-window_end', `${day} 16:00`);
  await desk.click('#submit-so-new');
  await check("an unknown repair ticket is refused in the API's words, and no order is opened", async () => {
    await desk.waitForSelector('#form-so-new .alert-error, #f-so-new-ticket_id-err');
    const t1 = await desk.textContent('#form-so-new');
    const list = await apiAs(C, 'GET', `/v1/service-orders?date=${day}&limit=200`);
    return /T99999999|unknown/i.test(t1) && !(list.orders || []).some((o) => o.customer && o.customer.name === customer);
  });
  await desk.fill('#f-so-new-ticket_id', '');
  await desk.click('#submit-so-new');
  let soId = '';
  await check('the order is opened and its page shown: requested, with the response promise', async () => {
    await desk.waitForSelector('#so-id');
    soId = (await desk.textContent('#so-id')).trim();
    const o = await apiAs(C, 'GET', `/v1/service-orders/${soId}`);
    return o.state === 'requested' && o.customer.name === customer && o.category === 'general' && !!o.respond_by
      && o.window_start && new Date(o.window_start).toISOString() === new Date(`${day}T14:00:00+08:00`).toISOString();
  });
  await check("the schedule form offers the registered technician for the order's category", async () => {
    await desk.waitForSelector('#form-so-schedule');
    return (await desk.$$(`#f-so-schedule-technician option[value="${techLogin}"]`)).length === 1;
  });
  await desk.selectOption('#f-so-schedule-technician', techLogin);
  await desk.click('#submit-so-schedule');
  await desk.waitForSelector('#so-dispatch');
  await desk.click('#so-dispatch');
  await check('assigned to the technician and dispatched (checked through the API)', async () => {
    await desk.waitForSelector('#so-check-in');
    const o = await apiAs(C, 'GET', `/v1/service-orders/${soId}`);
    return o.state === 'dispatched' && o.technician === techLogin;
  });
  await shot(desk, 'onsite-dispatched', { fullPage: true });
  await desk.goto(`${U}/console/#/onsite`);
  await desk.fill('#f-wl-date', day);
  await desk.click('#workload-search');
  await check("the technicians' workload shows the order under the new technician", async () => {
    await desk.waitForSelector(`#workload-table >> text=${soId}`);
    return (await desk.textContent('#workload-table')).includes(techName);
  });
  await check('the desk sees no staff-account box (the people service is admin and region only)', async () => {
    await desk.click('#tech-add-open');
    await desk.waitForSelector('#form-tech');
    return !(await desk.$('#f-tech-account')) && (await desk.inputValue('#f-tech-center')) === CENTER;
  });

  // ---- scorecard: weights, a new version, the reward per centre ---------------------------------
  // A covered repair completed at the centre today, so that the centre has a score this period.
  const rep1 = await apiAs(C, 'POST', '/v1/tickets', ticketBody(`${surname}考核`, 40));
  await waitState(C, rep1.id, ['adjudicated']);
  await apiAs(C, 'POST', `/v1/tickets/${rep1.id}/diagnosis`, { fault_code: 'NO_DISPLAY', labour_code: 'L-SCREEN' });
  await apiAs(C, 'POST', `/v1/tickets/${rep1.id}/repair-complete`, { labour_code: 'L-SCREEN', labour_minutes: 30 });
  await admin.goto(`${U}/console/#/scorecard`);
  await check('the administrator reads the weight versions, the one in force marked', async () => {
    await admin.waitForSelector('#sw-table tbody tr .tag, #sw-table tbody tr');
    const w = await apiAs(A, 'GET', '/v1/scorecard/weights');
    await admin.waitForSelector(`#sw-${w.current_version}`);
    return (await admin.$$('#sw-table tbody tr')).length === w.weight_sets.length
      && (await admin.textContent(`#sw-${w.current_version}`)).includes('现行');
  });
  await check("each centre's market-maintenance reward is the rule of the period's weights: base × repaired × band", async () => {
    await admin.waitForSelector('.sc-table td.sc-reward');
    const from = await admin.inputValue('#f-sc-from'); const to = await admin.inputValue('#f-sc-to');
    const rep = await apiAs(A, 'GET', `/v1/reports/scorecard?from=${from}&to=${to}`);
    const ws = (await apiAs(A, 'GET', '/v1/scorecard/weights')).weight_sets.find((w) => w.version === rep.weights_version);
    let n = 0;
    for (const r of rep.rows) {
      const cell = (await admin.textContent(`#sc-row-${r.center} td.sc-reward`)).trim();
      if (r.score === undefined || r.score === null) { if (cell !== '—') return false; continue; }
      let pct = 0;
      for (const b of ws.reward_bands) if (r.score >= (b.min_score || 0)) pct = b.pct || 0;
      const cents = Math.round((ws.reward_base_cents * (r.repaired || 0) * pct) / 100);
      const yuan = (cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2 });
      if (!cell.replace(/\s/g, '').includes(yuan) || !cell.includes(`${pct}%`)) throw new Error(`${r.center}: ${cell} ≠ ${yuan} ${pct}%`);
      n++;
    }
    return n > 0;
  });
  await check('an open period offers no reward posting (the API refuses it too)', async () => !(await admin.$('#rw-post')));
  await admin.evaluate(() => window.scrollTo(0, 0));
  await shot(admin, 'scorecard-reward', { fullPage: true });
  const before = await apiAs(A, 'GET', '/v1/scorecard/weights');
  await admin.click('#sw-add-open');
  await admin.waitForSelector('#form-sw');
  const eff = `2099-${String(1 + Math.floor(Math.random() * 12)).padStart(2, '0')}-${String(1 + Math.floor(Math.random() * 28)).padStart(2, '0')}`;
  await admin.fill('#f-sw-effective_from', eff);
  await admin.fill('#f-sw-nps', String(Number(await admin.inputValue('#f-sw-nps')) + 10));
  await admin.fill('#f-sw-reward_bands', '0:0, 80:50, 70:100');
  await admin.click('#submit-sw');
  await check('weights that do not sum to 1000 and falling bands are refused at their fields', async () => {
    await admin.waitForSelector('#f-sw-weights-err');
    await admin.waitForSelector('#f-sw-reward_bands-err');
    return (await admin.textContent('#f-sw-weights-err')).includes('1010');
  });
  await shot(admin, 'scorecard-weights-errors', { fullPage: true });
  await admin.fill('#f-sw-nps', String(Number(await admin.inputValue('#f-sw-nps')) - 10));
  await admin.fill('#f-sw-reward_bands', '0:0, 60:50, 75:100, 90:125');
  await admin.fill('#f-sw-note', `console ${rnd(4)}`);
  await admin.click('#submit-sw');
  await check('a new weight version is added, in force from its date, and listed (checked through the API)', async () => {
    await admin.waitForSelector('#sw-msg');
    const after = await apiAs(A, 'GET', '/v1/scorecard/weights');
    const w = after.weight_sets.find((x) => x.effective_from === eff);
    if (!w || after.weight_sets.length !== before.weight_sets.length + 1) return false;
    await admin.waitForSelector(`#sw-${w.version}`);
    return w.reward_bands.length === 4 && w.reward_bands[3].pct === 125;
  });
  const fin = await newPage();
  await signIn(fin, 'FINANCE');
  await fin.goto(`${U}/console/#/scorecard`);
  await check('finance reads the weights and the rewards but has no form to add a version', async () => {
    await fin.waitForSelector('#sw-table tbody tr');
    await fin.waitForSelector('.sc-table td.sc-reward');
    return !(await fin.$('#sw-add-open')) && !(await fin.$('#rw-post'));
  });
  const reg = await newPage();
  await signIn(reg, 'REGION');
  await reg.goto(`${U}/console/#/scorecard`);
  await check('the region manager has neither the weights nor the reward column (the API refuses the weights to them)', async () => {
    await reg.waitForSelector('.sc-table tbody tr');
    return !(await reg.$('#sw-table')) && !(await reg.$('.sc-reward'));
  });
  // A closed period: the administrator can post its rewards; a period with no ticket has none.
  await admin.fill('#f-sc-from', '2021-03-01');
  await admin.fill('#f-sc-to', '2021-03-31');
  await admin.click('#sc-search');
  await admin.waitForSelector('#rw-post');
  await admin.click('#rw-post');
  await check("a closed period's rewards are posted by the API and its answer shown (no scored centre then: none)", async () => {
    await admin.waitForSelector('#rw-table');
    return (await admin.$$('#rw-table tbody tr td.empty')).length === 1;
  });

  // ---- proactive calls in the call-back desk's list ------------------------------------------
  const tk = await apiAs(C, 'POST', '/v1/tickets', ticketBody(`${surname}回访`, 40));
  const ev = JSON.stringify({ ticket_id: tk.id, center: CENTER, region: 'east', outcome: 'repaired', category: 'general', brand: 'Huaxin',
    customer: { name: `${surname}回访`, phone }, closed_at: new Date().toISOString() });
  execFileSync(`${ROOT}/deploy/local/stack.sh`, ['psql', 'surveys', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c',
    `SELECT on_ticket_closed('${ev.replace(/'/g, "''")}'::jsonb)`], { stdio: 'pipe' });
  const pcs = (await apiAs(C, 'GET', `/v1/surveys/due?date=${chinaDay(400)}&ticket_id=${tk.id}&limit=500`)).proactive || [];
  const qt = pcs.find((p) => p.kind === 'quality_tracking'); const mt = pcs.find((p) => p.kind === 'maintenance');
  await desk.click('#nav-callbacks');
  await desk.fill('#f-cb-date', chinaDay(400));
  await desk.click('#cb-search');
  await check("the quality-tracking call and the maintenance reminder are in the desk's list with their own labels", async () => {
    if (!qt || !mt) throw new Error(`scheduled: ${JSON.stringify(pcs)}`);
    await desk.waitForSelector(`#pc-${qt.id}`);
    await desk.waitForSelector(`#pc-${mt.id}`);
    return (await desk.textContent(`#pc-${qt.id}`)).includes('质量跟踪回访') && (await desk.textContent(`#pc-${mt.id}`)).includes('保养提醒')
      && (await desk.textContent(`#pc-${qt.id}`)).includes(tk.id);
  });
  await desk.click(`#pc-call-${mt.id}`);
  await check("the maintenance reminder's own script names the customer, the device and the ticket", async () => {
    await desk.waitForSelector(`#pc-script-${mt.id}`);
    const s = await desk.textContent(`#pc-script-${mt.id}`);
    return s.includes('保养') && s.includes(`${surname}回访`) && s.includes(tk.id);
  });
  await desk.evaluate((id) => document.getElementById(`pc-${id}`).scrollIntoView({ block: 'center' }), mt.id);
  await shot(desk, 'callbacks-proactive');
  await desk.fill(`#f-pc-${mt.id}-note`, '已预约下月保养');
  await desk.click(`#submit-pc-${mt.id}`);
  await check('marked done it leaves the list, with who and what was said (checked through the API)', async () => {
    await desk.waitForSelector('#cb-msg');
    await desk.waitForFunction((id) => !document.getElementById(`pc-${id}`), mt.id);
    const left = (await apiAs(C, 'GET', `/v1/surveys/due?date=${chinaDay(400)}&ticket_id=${tk.id}&limit=500`)).proactive || [];
    return !left.some((p) => p.id === mt.id) && left.some((p) => p.id === qt.id) && !!(await desk.$(`#pc-${qt.id}`));
  });
  await desk.click('.lang-switch, #lang-switch').catch(() => {});

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
