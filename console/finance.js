// finance.js — the console's finance work (issue 18, points 5 and 8; decision 0032): writing the
// price list (a new version of a labour rate, a part's price or a fee from a date), a
// manufacturer claim's actions (submit, the manufacturer's decision line by line, its payment)
// and the accounting periods with their close. Built from the pieces app.js exports; app.js adds
// FIN_MENU to its menu, asks finScreen() for a route and puts PriceListMore under the price list;
// more.js puts ClaimActions on a claim's page. Nothing here decides what a role may do: the
// buttons are shown to the roles the routes let in, and the API's refusal is shown at the field
// or button that caused it.
import { html, useState, useRef } from './vendor/preact-htm.mjs';
import { api, newKey } from './api.js';
import { t, fmtDate, fmtTime, fmtMoney, today } from './i18n.js';
import { can, Tag, errText, ErrorBox, Field, inputProps, Card, fieldErrors, dateOk, useGet, PostButton, Bars } from './app.js';
import { qs } from './api.js';

const FIN = ['admin', 'finance']; // the settlement routes' FIN: every write here
// intake.DeviceCategory, the categories a rate may name besides '*' (any).
const DEVICE_CATEGORIES = ['phone_host', 'phone_battery', 'phone_charger', 'phone_headset', 'phone_data_card', 'phone_terminal_card', 'car', 'general'];
const catName = (c) => (c === '*' ? t('price.any') : t(`cat.${c}`) === `cat.${c}` ? c : t(`cat.${c}`));

export const FIN_MENU = [{ key: 'periods', label: 'nav.periods', roles: FIN }];

// The screen of a route, or null when the route is not one of these.
export function finScreen(me, r, allowed) {
  if (r.name === 'periods' && allowed('periods')) return { screen: html`<${Periods} me=${me} />` };
  return null;
}

// "12.50" / "12" / "0.5" yuan → cents; null when it is not an amount (negative included).
const yuanCents = (s) => (/^\d{1,10}(\.\d{1,2})?$/.test(String(s ?? '').trim()) ? Math.round(Number(String(s).trim()) * 100) : null);
const centsYuan = (c) => (c === undefined || c === null ? '' : (c / 100).toFixed(2));
// "12.50" → "12.50"; "12" → "12.00": the API's *_amount fields take exactly two decimals.
const yuanText = (s) => centsYuan(yuanCents(s));

// An API refusal that is about one field (422 codes and 409s that name no field) → that field.
const CODE_FIELD = {
  effective_in_past: 'effective_from', rate_in_force: 'effective_from', unknown_code: 'description',
  unknown_manufacturer: 'manufacturer', future_date: 'paid_date', bad_amount: 'paid_amount',
};

// ---- writing the price list --------------------------------------------------------------------

// The three tables' forms: [field, label, kind]; kind 'money' (yuan, sent as cents), 'text',
// 'cat' (category), 'bool', 'applies'. The first is the code.
const RATE_FORMS = {
  labour: { path: '/v1/settlement/rates/labour', fields: [['labour_code', 'f.labour_code', 'code'], ['category', 'f.device.category', 'cat'],
    ['manufacturer', 'fin.manufacturer', 'text'], ['description', 'stock.name', 'text'], ['list_flat_cents', 'rate.list_flat', 'money'],
    ['list_hour_cents', 'rate.list_hour', 'money'], ['claim_flat_cents', 'rate.claim_flat', 'money'], ['claim_hour_cents', 'rate.claim_hour', 'money']] },
  parts: { path: '/v1/settlement/rates/parts', fields: [['sku', 'rate.sku', 'code'], ['manufacturer', 'fin.manufacturer', 'text'],
    ['description', 'stock.name', 'text'], ['list_cents', 'net.list_price', 'money'], ['cost_cents', 'net.unit_cost', 'money'],
    ['return_required', 'net.defective', 'bool'], ['warranty_covered', 'rate.warranty_covered', 'bool']] },
  fees: { path: '/v1/settlement/rates/fees', fields: [['fee_code', 'price.fee', 'code'], ['category', 'f.device.category', 'cat'],
    ['manufacturer', 'fin.manufacturer', 'text'], ['description', 'stock.name', 'text'], ['applies', 'price.applies', 'applies'],
    ['list_cents', 'net.list_price', 'money'], ['claim_cents', 'price.claim', 'money'], ['active', 'rate.active', 'bool']] },
  handling: { path: '/v1/settlement/rates/handling', fields: [['manufacturer', 'fin.manufacturer', 'code'], ['handling_bp', 'rate.handling_pct', 'pct']] },
  travel: { path: '/v1/settlement/rates/travel', fields: [['category', 'f.device.category', 'cat'], ['list_cents_per_km', 'rate.travel_list', 'money'],
    ['claim_cents_per_km', 'rate.travel_claim', 'money']] },
};
const REQUIRED_MONEY = { labour: ['list_flat_cents', 'claim_flat_cents'], parts: ['list_cents', 'cost_cents'], fees: [], handling: ['handling_bp'],
  travel: ['list_cents_per_km', 'claim_cents_per_km'] };
const RATE_DEFAULTS = { category: '*', manufacturer: '*', applies: 'always', active: true, warranty_covered: true };

// Under the price list: the on-site travel rates (everyone who reads prices; claim rates for
// finance and admin), the claim handling surcharges (finance and admin), and for those two the
// form writing a new version of a row from a date. `data` is the list on screen (RateTables):
// choosing a code there fills the form with its prices.
export function PriceListMore({ me, data, onDone }) {
  const fin = can(me, FIN);
  const rows = (list, cols, row) => (!data ? html`<tr><td colspan=${cols} class="empty">${t('common.loading')}</td></tr>`
    : list.length ? list.map(row) : html`<tr><td colspan=${cols} class="empty">${t('common.none')}</td></tr>`);
  return html`<h3>${t('rate.travel')}</h3>
    <div class="table-card"><table class="table" id="travel-table"><thead><tr><th>${t('f.device.category')}</th><th class="num">${t('rate.travel_list')}</th>
      ${fin ? html`<th class="num">${t('rate.travel_claim')}</th>` : null}<th>${t('price.from')}</th></tr></thead>
      <tbody>${rows((data && data.travel) || [], fin ? 4 : 3, (r) => html`<tr><td>${catName(r.category)}</td><td class="num">${fmtMoney(r.list_cents_per_km || 0)}</td>
        ${fin ? html`<td class="num">${fmtMoney(r.claim_cents_per_km || 0)}</td>` : null}<td>${fmtDate(r.effective_from)}</td></tr>`)}</tbody></table></div>
    ${fin ? html`<h3>${t('rate.handling')}</h3>
      <div class="table-card"><table class="table" id="handling-table"><thead><tr><th>${t('fin.manufacturer')}</th><th class="num">${t('rate.handling_pct')}</th><th>${t('price.from')}</th></tr></thead>
        <tbody>${rows((data && data.handling) || [], 3, (r) => html`<tr><td>${r.manufacturer === '*' ? t('price.any') : r.manufacturer}</td>
          <td class="num">${((r.handling_bp || 0) / 100).toFixed(2)}%</td><td>${fmtDate(r.effective_from)}</td></tr>`)}</tbody></table></div>
      <${RateForm} data=${data} onDone=${onDone} />` : null}`;
}

function RateForm({ data, onDone }) {
  const [table, setTable] = useState('labour');
  const [v, setV] = useState({ ...RATE_DEFAULTS, effective_from: today() });
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const form = RATE_FORMS[table];
  const codeField = form.fields[0][0];
  const set = (n, bool) => (e) => {
    setV({ ...v, [n]: bool ? e.target.checked : e.target.value });
    if (errors[n]) { const x = { ...errors }; delete x[n]; setErrors(x); }
  };
  // The row of the list with this code (and category / manufacturer): its values as a start.
  function fillFrom(code) {
    const list = (data && data[table]) || [];
    const row = list.find((r) => r[codeField] === code && (table === 'parts' || ((r.category || '*') === (v.category || '*') && (r.manufacturer || '*') === (v.manufacturer || '*'))))
      || list.find((r) => r[codeField] === code);
    const nv = { ...v, [codeField]: code };
    if (row) for (const [f, , kind] of form.fields) if (f !== codeField && row[f] !== undefined) nv[f] = kind === 'money' || kind === 'pct' ? centsYuan(row[f]) : row[f];
    setV(nv);
  }
  function switchTable(tb) { setTable(tb); setV({ ...RATE_DEFAULTS, effective_from: v.effective_from }); setErrors({}); setError(null); setMsg(''); }
  async function submit(ev) {
    ev.preventDefault();
    setError(null); setMsg('');
    const pre = {};
    const body = { effective_from: String(v.effective_from || '').trim() };
    if (!dateOk(body.effective_from)) pre.effective_from = t('rate.date_bad');
    else if (body.effective_from < today()) pre.effective_from = t('rate.date_past', { today: today() });
    for (const [f, , kind] of form.fields) {
      const raw = v[f];
      if (kind === 'bool') { if (raw !== undefined) body[f] = !!raw; continue; }
      const s = String(raw ?? '').trim();
      if (kind === 'money' || kind === 'pct') { // yuan → cents; a percentage → basis points (the same arithmetic)
        if (s === '') { if (REQUIRED_MONEY[table].includes(f)) pre[f] = t('rate.money_required'); continue; }
        const c = yuanCents(s);
        if (c === null) pre[f] = t(kind === 'pct' ? 'rate.pct_bad' : 'rate.money_bad');
        else body[f] = c;
      } else if (s !== '') body[f] = s;
      else if (kind === 'code') pre[f] = t('rate.code_required');
    }
    if (Object.keys(pre).length) { setErrors(pre); return; }
    setErrors({}); setBusy(true);
    try {
      const r = await api('POST', form.path, body, key.current);
      key.current = newKey();
      setMsg(t('rate.saved', { code: r[codeField], date: fmtDate(r.effective_from) }));
      onDone && onDone(r);
    } catch (e) {
      const fe = fieldErrors(e);
      if (CODE_FIELD[e.code] && form.fields.concat([['effective_from']]).some(([f]) => f === CODE_FIELD[e.code])) fe[CODE_FIELD[e.code]] = errText(e);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(e);
    } finally { setBusy(false); }
  }
  const codes = [...new Set(((data && data[table]) || []).map((r) => r[codeField]))];
  const input = ([f, label, kind]) => {
    const name = `rate.${f}`;
    const err = errors[f];
    if (kind === 'bool') return html`<div class="field"><label class="check"><input type="checkbox" id=${`f-rate-${f}`} checked=${!!v[f]} onChange=${set(f, true)} /> ${t(label)}</label></div>`;
    if (kind === 'cat') return html`<${Field} name=${name} label=${t(label)} error=${err}><select ...${inputProps(name, err)} value=${v[f] ?? '*'} onChange=${set(f)}>
        <option value="*">${t('price.any')}</option>${DEVICE_CATEGORIES.map((c) => html`<option value=${c}>${catName(c)}</option>`)}</select><//>`;
    if (kind === 'applies') return html`<${Field} name=${name} label=${t(label)} error=${err}><select ...${inputProps(name, err)} value=${v[f] ?? 'always'} onChange=${set(f)}>
        <option value="always">${t('price.applies_always')}</option><option value="visit">${t('price.applies_visit')}</option></select><//>`;
    return html`<${Field} name=${name} label=${t(label)} error=${err}><input ...${inputProps(name, err)} value=${v[f] ?? ''}
      inputmode=${kind === 'money' || kind === 'pct' ? 'decimal' : undefined} placeholder=${kind === 'money' ? '0.00' : kind === 'pct' ? '10' : ''} list=${kind === 'code' ? `rate-codes-${table}` : undefined}
      onInput=${set(f)} onChange=${kind === 'code' ? (e) => fillFrom(e.target.value.trim()) : undefined} /><//>`;
  };
  return html`<${Card} title=${t('rate.title')} cls="rate-editor">
    <p class="hint">${t('rate.hint')}</p>
    <div class="seg" role="tablist">${Object.keys(RATE_FORMS).map((tb) => html`<button type="button" role="tab" aria-selected=${tb === table ? 'true' : 'false'}
      class=${`btn btn-sm${tb === table ? ' btn-primary' : ''}`} id=${`rate-tab-${tb}`} onClick=${() => switchTable(tb)}>${t(`rate.tab_${tb}`)}</button>`)}</div>
    ${msg ? html`<div class="alert alert-success" role="status" id="rate-msg">${msg}</div>` : null}
    <form class="mini-form" onSubmit=${submit} novalidate id="form-rate">
      <${ErrorBox} error=${error} />
      <datalist id=${`rate-codes-${table}`}>${codes.map((c) => html`<option value=${c} />`)}</datalist>
      <div class="row-fields">
        <${Field} name="rate.effective_from" label=${t('price.from')} error=${errors.effective_from}><input ...${inputProps('rate.effective_from', errors.effective_from)}
          value=${v.effective_from} inputmode="numeric" onInput=${set('effective_from')} /><//>
        ${form.fields.map(input)}
      </div>
      <div class="form-actions"><button class="btn btn-primary" type="submit" disabled=${busy} id="submit-rate">${t('rate.submit')}</button></div>
    </form>
  <//>`;
}

// ---- a manufacturer claim: submit, the decision line by line, the payment ----------------------

// Under a claim's page (more.js ClaimDetail), for admin and finance: the one step its state allows.
export function ClaimActions({ me, c, onDone }) {
  if (!can(me, FIN) || !c) return null;
  const path = `/v1/settlement/claims/${encodeURIComponent(c.id)}`;
  if (c.state === 'open') return html`<${Card} title=${t('clm.submit_title')}><${SubmitClaim} c=${c} path=${path} onDone=${onDone} /><//>`;
  if (c.state === 'submitted') return html`<${Card} title=${t('clm.decide_title')}><${DecideClaim} c=${c} path=${path} onDone=${onDone} /><//>`;
  if (c.state === 'approved' || c.state === 'partially_approved')
    return html`<${Card} title=${t('clm.pay_title')}><${PayClaim} c=${c} path=${path} onDone=${onDone} /><//>`;
  return null;
}

function SubmitClaim({ c, path, onDone }) {
  const [defer, setDefer] = useState(false);
  const waiting = (c.waiting_lines || []).length;
  return html`<div id="claim-submit">
    <p class="hint">${waiting ? t('clm.submit_waiting', { n: waiting }) : t('clm.submit_hint')}</p>
    ${waiting ? html`<div class="field"><label class="check"><input type="checkbox" id="f-clm-defer" checked=${defer} onChange=${(e) => setDefer(e.target.checked)} /> ${t('clm.defer')}</label></div>` : null}
    <${PostButton} path=${`${path}/submit`} body=${defer ? { defer_waiting: true } : {}} label=${t('clm.submit')} id="claim-submit-btn" onDone=${onDone} />
  </div>`;
}

// One row a line: approve (the claimed amount), approve part of it (an amount below, a reason) or
// reject (a reason). Every line is sent; the API checks the amounts against the claim.
function DecideClaim({ c, path, onDone }) {
  const lines = c.lines || [];
  const [d, setD] = useState(() => Object.fromEntries(lines.map((l) => [l.line_no, { how: 'approve', amount: '', reason: '' }])));
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const set = (no, k) => (e) => {
    setD({ ...d, [no]: { ...d[no], [k]: e.target.value } });
    const x = { ...errors }; delete x[`${no}.${k}`]; delete x[`${no}.how`]; setErrors(x);
  };
  async function submit(ev) {
    ev.preventDefault();
    setError(null);
    const pre = {};
    const body = { lines: [] };
    for (const l of lines) {
      const x = d[l.line_no];
      const reason = x.reason.trim();
      if (x.how === 'approve') { body.lines.push({ line_no: l.line_no, approved: true }); continue; }
      if (!reason) pre[`${l.line_no}.reason`] = t('clm.reason_required');
      if (x.how === 'reject') { body.lines.push({ line_no: l.line_no, approved: false, reason }); continue; }
      const cents = yuanCents(x.amount);
      if (cents === null) pre[`${l.line_no}.amount`] = t('rate.money_bad');
      else if (cents >= (l.claimed_cents || 0)) pre[`${l.line_no}.amount`] = t('clm.partial_below', { max: fmtMoney(l.claimed_cents || 0) });
      body.lines.push({ line_no: l.line_no, approved: true, approved_amount: yuanText(x.amount), reason });
    }
    if (Object.keys(pre).length) { setErrors(pre); return; }
    setErrors({}); setBusy(true);
    try {
      const r = await api('POST', `${path}/decision`, body, key.current);
      key.current = newKey();
      onDone && onDone(r);
    } catch (e) {
      // lines[i].approved_amount → that line's amount; a refusal naming a line → its row
      const fe = {};
      for (const f of e.fields || []) {
        const m = /^lines\[(\d+)\]\.(\w+)/.exec(f.field || '');
        if (m && body.lines[Number(m[1])]) fe[`${body.lines[Number(m[1])].line_no}.${m[2] === 'reason' ? 'reason' : 'amount'}`] = f.problem;
      }
      const named = /line (\d+)/.exec(e.message || '');
      if (!Object.keys(fe).length && named && d[named[1]]) fe[`${named[1]}.how`] = errText(e);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(e);
    } finally { setBusy(false); }
  }
  const total = lines.reduce((s, l) => {
    const x = d[l.line_no];
    return s + (x.how === 'approve' ? (l.claimed_cents || 0) : x.how === 'partial' ? (yuanCents(x.amount) || 0) : 0);
  }, 0);
  const err = (no, k) => errors[`${no}.${k}`];
  return html`<form onSubmit=${submit} novalidate id="form-decide">
    <p class="hint">${t('clm.decide_hint')}</p>
    <${ErrorBox} error=${error} />
    <div class="table-card"><table class="table" id="decide-table"><thead><tr><th>#</th><th>${t('col.id')}</th><th>${t('clm.code')}</th><th class="num">${t('fin.claimed')}</th>
      <th>${t('clm.decision')}</th><th>${t('clm.amount')}</th><th>${t('clm.reason')}</th></tr></thead>
      <tbody>${lines.map((l) => { const x = d[l.line_no]; const n = l.line_no; return html`<tr id=${`decide-${n}`} class=${err(n, 'how') || err(n, 'amount') || err(n, 'reason') ? 'row-error' : ''}>
        <td>${n}</td><td class="mono">${l.ticket_id}</td><td><span class="mono">${l.code}</span></td><td class="num">${fmtMoney(l.claimed_cents || 0)}</td>
        <td><select id=${`f-dec-${n}-how`} aria-invalid=${err(n, 'how') ? 'true' : undefined} value=${x.how} onChange=${set(n, 'how')}>
          <option value="approve">${t('clm.approve')}</option><option value="partial">${t('clm.partial')}</option><option value="reject">${t('clm.reject')}</option></select>
          ${err(n, 'how') ? html`<div class="inline-error" id=${`f-dec-${n}-how-err`}>${err(n, 'how')}</div>` : null}</td>
        <td>${x.how === 'partial' ? html`<input class="input-sm" id=${`f-dec-${n}-amount`} inputmode="decimal" placeholder="0.00" aria-invalid=${err(n, 'amount') ? 'true' : undefined}
            value=${x.amount} onInput=${set(n, 'amount')} />${err(n, 'amount') ? html`<div class="inline-error" id=${`f-dec-${n}-amount-err`}>${err(n, 'amount')}</div>` : null}` : '—'}</td>
        <td>${x.how === 'approve' ? '—' : html`<input id=${`f-dec-${n}-reason`} aria-invalid=${err(n, 'reason') ? 'true' : undefined} value=${x.reason} onInput=${set(n, 'reason')} />
            ${err(n, 'reason') ? html`<div class="inline-error" id=${`f-dec-${n}-reason-err`}>${err(n, 'reason')}</div>` : null}`}</td></tr>`; })}</tbody>
      <tfoot><tr><th colspan="3">${t('clm.decide_total')}</th><th class="num">${fmtMoney(c.claimed_cents || 0)}</th><th colspan="3" id="decide-total">${t('clm.approving', { amount: fmtMoney(total) })}</th></tr></tfoot>
    </table></div>
    <div class="form-actions"><button class="btn btn-primary" type="submit" disabled=${busy} id="submit-decide">${t('clm.decide')}</button></div>
  </form>`;
}

function PayClaim({ c, path, onDone }) {
  const [v, setV] = useState({ paid_amount: centsYuan(c.approved_cents || 0), paid_date: today(), reference: '' });
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const set = (n) => (e) => { setV({ ...v, [n]: e.target.value }); const x = { ...errors }; delete x[n]; setErrors(x); };
  async function submit(ev) {
    ev.preventDefault();
    setError(null);
    const pre = {};
    const cents = yuanCents(v.paid_amount);
    if (cents === null || cents <= 0) pre.paid_amount = t('rate.money_bad');
    else if (cents > (c.approved_cents || 0)) pre.paid_amount = t('clm.pay_over', { max: fmtMoney(c.approved_cents || 0) });
    if (!dateOk(v.paid_date)) pre.paid_date = t('rate.date_bad');
    if (Object.keys(pre).length) { setErrors(pre); return; }
    setErrors({}); setBusy(true);
    try {
      const r = await api('POST', `${path}/payment`, { paid_amount: yuanText(v.paid_amount), paid_date: v.paid_date, reference: v.reference.trim() || undefined }, key.current);
      key.current = newKey();
      onDone && onDone(r);
    } catch (e) {
      const fe = fieldErrors(e);
      if (CODE_FIELD[e.code]) fe[CODE_FIELD[e.code]] = errText(e);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(e);
    } finally { setBusy(false); }
  }
  const F = (n, label, extra) => html`<${Field} name=${`pay.${n}`} label=${t(label)} error=${errors[n]}><input ...${inputProps(`pay.${n}`, errors[n])} value=${v[n]} onInput=${set(n)} ...${extra || {}} /><//>`;
  return html`<form class="mini-form" onSubmit=${submit} novalidate id="form-pay">
    <p class="hint">${t('clm.pay_hint', { amount: fmtMoney(c.approved_cents || 0) })}</p>
    <${ErrorBox} error=${error} />
    <div class="row-fields">${F('paid_amount', 'clm.pay_amount', { inputmode: 'decimal' })}${F('paid_date', 'clm.paid_date', { inputmode: 'numeric' })}${F('reference', 'clm.reference')}</div>
    <div class="form-actions"><button class="btn btn-primary" type="submit" disabled=${busy} id="submit-pay">${t('clm.pay')}</button></div>
  </form>`;
}

// ---- accounting periods and their close --------------------------------------------------------

const lastMonth = () => { const d = new Date(`${today().slice(0, 7)}-01T00:00:00Z`); d.setUTCMonth(d.getUTCMonth() - 1); return d.toISOString().slice(0, 7); };

function Periods({ me }) {
  const list = useGet('/v1/settlement/periods');
  const [period, setPeriod] = useState(lastMonth());
  const [err, setErr] = useState('');
  const [msg, setMsg] = useState('');
  const periods = (list.data && list.data.periods) || [];
  const closed = (p) => { setMsg(t('per.closed_msg', { period: p.period })); list.reload(); };
  const thisMonth = today().slice(0, 7);
  return html`<div class="page"><div class="page-head"><h1>${t('per.title')}</h1></div>
    ${msg ? html`<div class="alert alert-success" role="status" id="per-msg">${msg}</div>` : null}
    <${Card} title=${t('per.list')}>
      <p class="hint">${t('per.hint')}</p>
      <${ErrorBox} error=${list.error} />
      <div class="table-card"><table class="table" id="periods-table"><thead><tr><th>${t('fin.period')}</th><th>${t('col.state')}</th><th class="num">${t('per.entries')}</th>
        <th class="num">${t('fin.debit')}</th><th class="num">${t('fin.credit')}</th><th>${t('per.closed_at')}</th><th></th></tr></thead>
        <tbody>${!list.data ? html`<tr><td colspan="7" class="empty">${list.error ? '—' : t('common.loading')}</td></tr>`
          : periods.length ? [...periods].reverse().map((p) => html`<tr id=${`period-${p.period}`}><td class="mono">${p.period}</td>
            <td><${Tag} color=${p.state === 'closed' ? 'default' : 'green'}>${t(`per.${p.state}`)}<//></td><td class="num">${p.entries || 0}</td>
            <td class="num">${fmtMoney(p.debit_cents || 0)}</td><td class="num">${fmtMoney(p.credit_cents || 0)}</td>
            <td>${p.closed_at ? html`${fmtTime(p.closed_at)}<div class="muted">${p.closed_by || ''}</div>` : '—'}</td>
            <td>${p.state === 'open' && p.period < thisMonth ? html`<${PostButton} path=${`/v1/settlement/periods/${p.period}/close`} label=${t('per.close')} id=${`close-${p.period}`} danger=${true} onDone=${closed} />`
              : p.state === 'open' ? html`<span class="muted">${t('per.running')}</span>` : null}</td></tr>`)
          : html`<tr><td colspan="7" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div>
    <//>
    <${Card} title=${t('per.close_other')}>
      <form class="filters" id="form-close" onSubmit=${(ev) => { ev.preventDefault(); setErr(/^\d{4}-(0[1-9]|1[0-2])$/.test(period) ? '' : t('fin.period_bad')); }}>
        <${Field} name="per.period" label=${t('fin.period')} error=${err}><input ...${inputProps('per.period', err)} value=${period} onInput=${(e) => { setPeriod(e.target.value.trim()); setErr(''); }} /><//>
        <div class="filter-actions">${/^\d{4}-(0[1-9]|1[0-2])$/.test(period)
          ? html`<${PostButton} path=${`/v1/settlement/periods/${period}/close`} label=${t('per.close')} id="close-other" danger=${true} onDone=${closed} />`
          : html`<button class="btn btn-danger btn-sm" type="submit" id="close-other">${t('per.close')}</button>`}</div>
      </form>
    <//>
  </div>`;
}

// ---- cost analysis as charts (the finance screen, the period's business dates) -----------------

// Settlement's cost analysis of the period (GET /v1/settlement/costs): what warranty work cost
// the manufacturers and the company, by cause and by region, as bars; the totals under them.
export function CostCharts({ from, to }) {
  const byCause = useGet(`/v1/settlement/costs${qs({ group: 'cause', from, to })}`);
  const byRegion = useGet(`/v1/settlement/costs${qs({ group: 'region', from, to })}`);
  const chart = (x, id, label, named) => {
    if (x.error) return html`<${ErrorBox} error=${x.error} />`;
    if (!x.data) return html`<p class="muted">${t('common.loading')}</p>`;
    const rows = (x.data.rows || []).map((r) => ({ ...r, key: named ? t(`rc.${r.key}`) : r.key }));
    if (!rows.some((r) => r.warranty_cost_cents)) return html`<p class="muted empty" id=${id}>${t('common.none')}</p>`;
    return html`<${Bars} id=${id} rows=${rows} value=${(r) => r.warranty_cost_cents || 0} fmt=${fmtMoney} label=${label} />`;
  };
  const tot = (byCause.data && byCause.data.total) || null;
  return html`<div class="grid2">
    <${Card} title=${t('cost.by_cause')}>${chart(byCause, 'chart-cost-cause', t('cost.by_cause'), true)}<//>
    <${Card} title=${t('cost.by_region')}>${chart(byRegion, 'chart-cost-region', t('cost.by_region'), false)}
      ${tot ? html`<p class="hint" id="cost-total">${t('cost.total', { n: tot.tickets || 0, warranty: fmtMoney(tot.warranty_cost_cents || 0), total: fmtMoney(tot.total_cost_cents || 0) })}</p>` : null}<//>
  </div>`;
}
