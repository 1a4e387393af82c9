// more.js — the console's further screens (issue 18): customers, the hotline's call log, the
// promised deadlines and service levels, the quality report, the customers' notifications, the
// integrators' webhooks, a manufacturer claim's page and its printed claim form. Built from the
// pieces app.js exports; app.js adds MORE_MENU to its menu and asks moreScreen() for a route.
import { html, useState, useEffect } from './vendor/preact-htm.mjs';
import { api, qs, newKey, ApiError } from './api.js';
import { t, fmtDate, fmtTime, fmtMoney, today } from './i18n.js';
import {
  can, Tag, StateTag, errText, ErrorBox, Field, inputProps, Card, Desc, fieldErrors, dateOk, moneyToCents, luhnOk,
  Qr, Bars, sinceDays, useGet, MiniForm, PostButton, CATEGORIES, go,
} from './app.js';
import { ClaimActions } from './finance.js';

const CUSTOMER_ROLES = ['admin', 'center'];                      // personal data: the desks and head office
const QUALITY = ['admin', 'region', 'center', 'reviewer'];       // call log, quality report, outbox
const FIN = ['admin', 'finance'];

export const MORE_MENU = [
  { key: 'customers', label: 'nav.customers', roles: CUSTOMER_ROLES },
  { key: 'calls', label: 'nav.calls', roles: QUALITY },
  { key: 'promises', label: 'nav.promises', roles: DESK_ROLES() },
  { key: 'quality', label: 'nav.quality', roles: QUALITY },
  { key: 'notifications', label: 'nav.notifications', roles: QUALITY },
  { key: 'webhooks', label: 'nav.webhooks', roles: ['admin'] },
  { key: 'onsite', label: 'nav.onsite', roles: DESK_ROLES() },          // on-site service: the routes' DESK
  { key: 'scorecard', label: 'nav.scorecard', roles: SCORECARD_ROLES() },
];
// The scorecard's readers (routes_intake.c SCORECARD): admin, region, centre, finance.
function SCORECARD_ROLES() { return ['admin', 'region', 'center', 'finance']; }
// DESK lives in app.js, which is evaluated after this module: the same list, spelled here.
function DESK_ROLES() { return ['admin', 'region', 'center']; }

// The screen of a route, or null when the route is not one of these; {bare} for a printout.
export function moreScreen(me, r, allowed) {
  if (r.name === 'print' && r.arg === 'claim' && can(me, FIN)) return { bare: html`<${ClaimPrint} me=${me} id=${r.arg2} />` };
  if (r.name === 'claims' && r.arg && can(me, FIN)) return { screen: html`<${ClaimDetail} me=${me} id=${r.arg} />` };
  if (r.name === 'customers' && allowed('customers'))
    return { screen: r.arg ? html`<${CustomerPage} me=${me} id=${r.arg} />` : html`<${Customers} me=${me} />` };
  if (r.name === 'calls' && allowed('calls')) return { screen: html`<${Calls} me=${me} />` };
  if (r.name === 'promises' && allowed('promises')) return { screen: html`<${Promises} me=${me} />` };
  if (r.name === 'quality' && allowed('quality')) return { screen: html`<${Quality} />` };
  if (r.name === 'notifications' && allowed('notifications')) return { screen: html`<${Notifications} me=${me} />` };
  if (r.name === 'webhooks' && allowed('webhooks')) return { screen: html`<${Webhooks} />` };
  if (r.name === 'print' && r.arg === 'onsite' && allowed('onsite')) return { bare: html`<${OnsitePrint} me=${me} id=${r.arg2} />` };
  if (r.name === 'onsite' && allowed('onsite'))
    return { screen: r.arg ? html`<${OnsiteOrder} me=${me} id=${r.arg} />` : html`<${Onsite} me=${me} />` };
  if (r.name === 'scorecard' && allowed('scorecard')) return { screen: html`<${Scorecard} me=${me} />` };
  return null;
}

const NotFound = ({ error }) => html`<div class="page"><div class="result" id="not-found"><h1>${t('err.notfound')}</h1>${error ? html`<p>${errText(error)}</p>` : null}</div></div>`;
const Loading = () => html`<div class="page"><p class="muted">${t('common.loading')}</p></div>`;
const rowsOr = (list, cols, row, loading) => (loading ? html`<tr><td colspan=${cols} class="empty">${t('common.loading')}</td></tr>`
  : list.length ? list.map(row) : html`<tr><td colspan=${cols} class="empty">${t('common.none')}</td></tr>`);
const pct = (x) => (x === undefined || x === null ? '—' : `${x > 0 ? '+' : ''}${Number(x).toFixed(1)}%`);
const dur = (s) => (s ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : '—');

// A text filter field of a filter bar; errors (a date the API refused) beside it.
function FilterInput({ name, label, value, set, error, placeholder, type }) {
  return html`<${Field} name=${name} label=${label} error=${error}><input ...${inputProps(name, error)} type=${type || 'text'} value=${value}
    placeholder=${placeholder || ''} onInput=${(e) => set(e.target.value.trim())} /><//>`;
}
// The API's 400 for a query field ("from: is not a date") belongs to that field of the filter bar.
function queryFieldError(e, names) {
  if (!e || e.status !== 400) return {};
  const out = {};
  for (const f of e.fields || []) if (names.includes(f.field)) out[f.field] = `${f.field}: ${f.problem || e.message}`;
  if (!Object.keys(out).length) { const n = names.find((x) => String(e.message || '').startsWith(`${x}:`)); if (n) out[n] = e.message; }
  return out;
}

// ---- customers (centre desks, admin) ---------------------------------------------------------

const TIERS = ['regular', 'key', 'vip'];
const TIER_COLOR = { regular: 'default', key: 'blue', vip: 'gold' };
const CONSENTS = ['sms', 'phone', 'email', 'wechat'];
const customerMemory = { phone: '', name: '' };

function Customers() {
  const [phone, setPhone] = useState(customerMemory.phone);
  const [name, setName] = useState(customerMemory.name);
  const [res, setRes] = useState(null);
  const [cursors, setCursors] = useState([]);
  const [error, setError] = useState(null);
  const [errors, setErrors] = useState({});
  async function load(after) {
    setError(null);
    try { setRes(await api('GET', `/v1/customers${qs({ phone, name, after, limit: 20 })}`)); } catch (e) { setError(e); setRes({ customers: [] }); }
  }
  function search(ev) {
    if (ev) ev.preventDefault();
    customerMemory.phone = phone; customerMemory.name = name;
    const e = {};
    if (phone && !/^\+?\d{1,20}$/.test(phone)) e['cu.phone'] = t('cu.phone_bad');
    setErrors(e);
    if (Object.keys(e).length) return;
    setCursors([]); load(undefined);
  }
  useEffect(() => { if (phone || name) search(); }, []);
  const list = (res && res.customers) || [];
  return html`<div class="page"><div class="page-head"><h1>${t('cu.title')}</h1></div>
    <form class="card filter-bar" onSubmit=${search} id="cu-filters"><div class="filters">
      <${FilterInput} name="cu.phone" label=${t('cu.phone_prefix')} value=${phone} set=${setPhone} error=${errors['cu.phone']} placeholder="138" />
      <${FilterInput} name="cu.name" label=${t('cu.name_prefix')} value=${name} set=${setName} />
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="cu-search">${t('common.search')}</button></div></div>
      <p class="hint">${t('cu.hint')}</p></form>
    <${ErrorBox} error=${error} />
    ${res ? html`<div class="card table-card"><table class="table" id="customers-table"><thead><tr><th>${t('cu.id')}</th><th>${t('f.customer.name')}</th>
      <th>${t('cu.phones')}</th><th>${t('cu.tier')}</th><th>${t('col.center')}</th><th>${t('cu.since')}</th></tr></thead>
      <tbody>${rowsOr(list, 6, (c) => html`<tr><td><a class="mono" href=${`#/customers/${encodeURIComponent(c.id)}`}>${c.id}</a></td><td>${c.name}</td>
        <td class="mono">${(c.phones || []).join(', ')}</td><td><${Tag} color=${TIER_COLOR[c.tier]}>${t(`tier.${c.tier || 'regular'}`)}<//>${c.account_owner ? html`<div class="muted">${c.account_owner}</div>` : null}</td>
        <td>${c.center || '—'}</td><td>${fmtDate(c.created_at)}</td></tr>`)}</tbody></table>
      <div class="pager">
        <button class="btn" type="button" disabled=${!cursors.length} onClick=${() => { setCursors([]); load(undefined); }}>${t('common.first')}</button>
        <button class="btn" type="button" id="cu-next" disabled=${!res.next} onClick=${() => { setCursors([...cursors, res.next]); load(res.next); }}>${t('common.next')}</button>
      </div></div>` : null}
  </div>`;
}

// Edit consent, tier, account owner and address: PATCH /v1/customers/{id}.
function CustomerEdit({ c, onDone }) {
  const [v, setV] = useState({ address: c.address || '', tier: c.tier || 'regular', account_owner: c.account_owner || '', consent: { ...(c.consent || {}) } });
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(ev) {
    ev.preventDefault();
    setError(null);
    const e = {};
    if (v.tier !== 'regular' && !v.account_owner.trim()) e.account_owner = t('v.required', { field: t('cu.owner') });
    setErrors(e);
    if (Object.keys(e).length) return;
    setBusy(true);
    try {
      const consent = {};
      for (const k of CONSENTS) consent[k] = !!v.consent[k];
      const r = await api('PATCH', `/v1/customers/${encodeURIComponent(c.id)}`, { address: v.address, tier: v.tier, account_owner: v.account_owner.trim(), consent }, newKey());
      onDone(r);
    } catch (x) {
      const fe = fieldErrors(x);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(x);
    } finally { setBusy(false); }
  }
  const id = (n) => `cu-edit.${n}`;
  return html`<form class="mini-form" id="form-cu-edit" onSubmit=${submit} novalidate>
    <${ErrorBox} error=${error} />
    <div class="row-fields">
      <${Field} name=${id('tier')} label=${t('cu.tier')} error=${errors.tier}><select ...${inputProps(id('tier'), errors.tier)} value=${v.tier} onChange=${(e) => setV({ ...v, tier: e.target.value })}>
        ${TIERS.map((x) => html`<option value=${x}>${t(`tier.${x}`)}</option>`)}</select><//>
      <${Field} name=${id('account_owner')} label=${t('cu.owner')} error=${errors.account_owner}><input ...${inputProps(id('account_owner'), errors.account_owner)} value=${v.account_owner}
        onInput=${(e) => setV({ ...v, account_owner: e.target.value })} /><//>
      <${Field} name=${id('address')} label=${t('net.address')} error=${errors.address} wide><input ...${inputProps(id('address'), errors.address)} value=${v.address}
        onInput=${(e) => setV({ ...v, address: e.target.value })} /><//>
    </div>
    <fieldset class="checks" id="cu-consent"><legend>${t('cu.consent')}</legend>${CONSENTS.map((k) => html`<label class="check"><input type="checkbox" id=${`f-cu-consent-${k}`}
      checked=${!!v.consent[k]} onChange=${(e) => setV({ ...v, consent: { ...v.consent, [k]: e.target.checked } })} /> ${t(`consent.${k}`)}</label>`)}</fieldset>
    <div class="form-actions"><button class="btn btn-primary" type="submit" id="submit-cu-edit" disabled=${busy}>${t('common.save')}</button></div>
  </form>`;
}

function History({ list, id }) {
  return html`<table class="table" id=${id}><thead><tr><th>${t('col.id')}</th><th>${t('col.center')}</th><th>${t('col.state')}</th><th>${t('f.request')}</th>
    <th>${t('cu.fault')}</th><th>${t('col.opened')}</th><th>${t('cu.closed')}</th></tr></thead>
    <tbody>${rowsOr(list || [], 7, (h) => html`<tr><td><a class="mono" href=${`#/tickets/${encodeURIComponent(h.id)}`}>${h.id}</a></td><td>${h.center}</td>
      <td><${StateTag} state=${h.state} /></td><td>${h.request ? t(`req.${h.request}`) : '—'}</td><td class="mono">${h.fault_code || '—'}</td>
      <td>${fmtDate(h.opened_at)}</td><td>${h.closed_at ? fmtDate(h.closed_at) : '—'}</td></tr>`)}</tbody></table>`;
}

function CustomerPage({ id }) {
  const { data: c, error, reload } = useGet(`/v1/customers/${encodeURIComponent(id)}`, [id]);
  const devs = useGet(`/v1/customers/${encodeURIComponent(id)}/devices`, [id]);
  const [msg, setMsg] = useState('');
  if (error) return html`<${NotFound} error=${error} />`;
  if (!c) return html`<${Loading} />`;
  const consent = c.consent || {};
  const devices = (devs.data && devs.data.devices) || c.devices || [];
  return html`<div class="page"><div class="page-head"><h1>${c.name} <span class="mono muted" id="customer-id">${c.id}</span>
      <${Tag} color=${TIER_COLOR[c.tier]}>${t(`tier.${c.tier || 'regular'}`)}<//></h1><a class="btn" href="#/customers">${t('common.back')}</a></div>
    ${msg ? html`<div class="alert alert-success" role="status" id="cu-msg">${msg}</div>` : null}
    <div class="grid2">
      <${Card} title=${t('cu.record')}><div id="cu-record"><${Desc} items=${[[t('f.customer.name'), c.name], [t('cu.phones'), html`<span class="mono">${(c.phones || []).join(', ')}</span>`],
        [t('net.address'), c.address || '—'], [t('cu.tier'), t(`tier.${c.tier || 'regular'}`)], [t('cu.owner'), c.account_owner || '—'],
        [t('cu.consent'), CONSENTS.filter((k) => consent[k]).map((k) => t(`consent.${k}`)).join('、') || t('cu.no_consent')],
        [t('col.center'), c.center || '—'], [t('cu.since'), fmtTime(c.created_at)], [t('cu.updated'), fmtTime(c.updated_at)]]} /></div><//>
      <${Card} title=${t('cu.edit')}><${CustomerEdit} c=${c} onDone=${() => { setMsg(t('cu.saved')); reload(); }} /><//>
    </div>
    <${Card} title=${t('cu.devices')}>
      <${ErrorBox} error=${devs.error} />
      <div id="cu-devices">${devices.length ? devices.map((d) => html`<div class="device-block">
        <h3>${d.brand || ''} ${d.model || ''} <span class="mono muted">${d.imei || d.vin || d.serial || d.key}</span>
          ${d.purchase_date ? html`<span class="muted"> · ${t('cu.bought', { date: fmtDate(d.purchase_date) })}</span>` : null}</h3>
        <${History} list=${d.history} /></div>`) : html`<p class="muted empty">${devs.loading ? t('common.loading') : t('common.none')}</p>`}</div>
    <//>
    <${Card} title=${t('cu.tickets')}><${History} list=${c.tickets} id="cu-tickets" /><//>
  </div>`;
}

// ---- the hotline: call log, record a call, statistics ----------------------------------------

const CALL_CATS = ['consultation', 'repair_request', 'complaint', 'suggestion', 'praise', 'other'];
const CALL_CHANNELS = ['phone', 'hotline_400', 'hotline_12315', 'wechat', 'online', 'other'];
const CALL_OUTCOMES = ['answered', 'transferred', 'callback_needed'];
const CAT_COLOR = { consultation: 'blue', repair_request: 'geekblue', complaint: 'red', suggestion: 'cyan', praise: 'green', other: 'default' };
const COMPLAINT_CAUSES = ['attitude', 'repair_quality', 'overdue', 'parts_unavailable', 'price', 'other'];
const REQUESTS = ['repair', 'exchange', 'refund'];

const EMPTY_CALL = {
  direction: 'inbound', channel: 'hotline_400', category: 'consultation', outcome: 'answered', name: '', phone: '', ticket_id: '',
  summary: '', duration: '', cause: 'attitude', cdesc: '',
  t_category: 'phone_host', brand: '', model: '', imei: '', fault_code: '', fault_desc: '', invoice_date: '', price: '', request: 'repair',
};
function callBody(v, e) {
  const req = (k, label) => { if (!String(v[k] || '').trim()) e[k] = t('v.required', { field: t(label) }); };
  req('summary', 'call.summary');
  if (v.phone && !/^1\d{10}$/.test(v.phone.trim())) e.phone = t('v.phone');
  if (v.duration && !/^\d{1,5}$/.test(v.duration.trim())) e.duration = t('call.duration_bad');
  const b = {
    direction: v.direction, channel: v.channel, category: v.category, outcome: v.outcome, summary: v.summary.trim(),
    ticket_id: v.ticket_id.trim() || undefined, duration_s: v.duration ? Number(v.duration) : undefined,
    customer: v.name.trim() || v.phone.trim() ? { name: v.name.trim() || undefined, phone: v.phone.trim() || undefined } : undefined,
  };
  if (v.category === 'complaint') {
    req('cdesc', 'cp.description');
    b.complaint = { cause: v.cause, description: v.cdesc.trim() };
  }
  if (v.category === 'repair_request' && !v.ticket_id.trim()) {
    req('name', 'f.customer.name'); req('phone', 'f.customer.phone'); req('brand', 'f.device.brand'); req('model', 'f.device.model');
    req('fault_code', 'f.fault.code'); req('price', 'f.purchase.price_cents');
    if (v.imei && !luhnOk(v.imei.trim())) e.imei = t('v.luhn');
    if (v.invoice_date && !dateOk(v.invoice_date.trim())) e.invoice_date = t('v.date');
    const cents = moneyToCents(v.price);
    if (v.price && cents === null) e.price = t('v.money');
    b.ticket = {
      customer: { name: v.name.trim(), phone: v.phone.trim() },
      device: { category: v.t_category, brand: v.brand.trim(), model: v.model.trim(), imei: v.imei.trim() || undefined },
      purchase: { invoice_date: v.invoice_date.trim() || undefined, price_cents: cents ?? undefined, invoice: !!v.invoice_date.trim() },
      fault: { code: v.fault_code.trim(), description: v.fault_desc.trim() || undefined },
      request: v.request,
    };
  }
  return b;
}
// The API's field names (ticket.device.brand, customer.phone…) → this form's fields.
const CALL_FIELD = {
  'ticket.customer.name': 'name', 'ticket.customer.phone': 'phone', 'customer.phone': 'phone', 'customer.name': 'name',
  'ticket.device.brand': 'brand', 'ticket.device.model': 'model', 'ticket.device.imei': 'imei', 'ticket.fault.code': 'fault_code',
  'ticket.purchase.price_cents': 'price', 'ticket.purchase.invoice_date': 'invoice_date', ticket_id: 'ticket_id', summary: 'summary',
  'complaint.description': 'cdesc', 'complaint.cause': 'cause', duration_s: 'duration',
};

function CallForm({ onDone }) {
  const [v, setV] = useState(EMPTY_CALL);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(newKey());
  async function submit(ev) {
    ev.preventDefault();
    setError(null);
    const e = {};
    const body = callBody(v, e);
    setErrors(e);
    if (Object.keys(e).length) return;
    setBusy(true);
    try {
      const r = await api('POST', '/v1/calls', body, key);
      setKey(newKey()); setV(EMPTY_CALL);
      onDone(r);
    } catch (x) {
      const fe = {};
      for (const f of x.fields || []) if (f.field) fe[CALL_FIELD[f.field] || 'summary'] = `${f.field}: ${f.problem || x.message}`;
      setErrors(fe);
      if (!Object.keys(fe).length) setError(x);
    } finally { setBusy(false); }
  }
  const set = (n) => (ev) => { setV({ ...v, [n]: ev.target.value }); if (errors[n]) { const x = { ...errors }; delete x[n]; setErrors(x); } };
  const fld = (n, label, opts = {}) => html`<${Field} name=${`call.${n}`} label=${t(label)} error=${errors[n]} wide=${opts.wide}>
    ${opts.options ? html`<select ...${inputProps(`call.${n}`, errors[n])} value=${v[n]} onChange=${set(n)}>${opts.options.map(([val, lab]) => html`<option value=${val}>${lab}</option>`)}</select>`
      : opts.area ? html`<textarea ...${inputProps(`call.${n}`, errors[n])} rows="2" value=${v[n]} onInput=${set(n)}></textarea>`
      : html`<input ...${inputProps(`call.${n}`, errors[n])} value=${v[n]} inputmode=${opts.inputmode || undefined} placeholder=${opts.placeholder || ''} onInput=${set(n)} />`}<//>`;
  const repair = v.category === 'repair_request' && !v.ticket_id.trim();
  return html`<form class="mini-form" id="form-call" onSubmit=${submit} novalidate>
    <${ErrorBox} error=${error} />
    <div class="row-fields">
      ${fld('direction', 'call.direction', { options: ['inbound', 'outbound'].map((x) => [x, t(`dir.${x}`)]) })}
      ${fld('channel', 'cp.channel', { options: CALL_CHANNELS.map((x) => [x, t(`cch.${x}`)]) })}
      ${fld('category', 'call.category', { options: CALL_CATS.map((x) => [x, t(`ccat.${x}`)]) })}
      ${fld('outcome', 'call.outcome', { options: CALL_OUTCOMES.map((x) => [x, t(`cout.${x}`)]) })}
      ${fld('name', 'f.customer.name')}${fld('phone', 'f.customer.phone', { inputmode: 'tel' })}
      ${fld('ticket_id', 'col.id', { placeholder: 'T00000042' })}${fld('duration', 'call.duration_s', { inputmode: 'numeric' })}
      ${fld('summary', 'call.summary', { area: true, wide: true })}
    </div>
    ${v.category === 'complaint' ? html`<fieldset class="subform" id="call-complaint"><legend>${t('call.then_complaint')}</legend><div class="row-fields">
      ${fld('cause', 'cp.cause', { options: COMPLAINT_CAUSES.map((x) => [x, t(`cause.${x}`)]) })}${fld('cdesc', 'cp.description', { area: true, wide: true })}</div></fieldset>` : null}
    ${repair ? html`<fieldset class="subform" id="call-ticket"><legend>${t('call.then_ticket')}</legend><div class="row-fields">
      ${fld('t_category', 'f.device.category', { options: CATEGORIES.map((x) => [x, t(`cat.${x}`)]) })}${fld('brand', 'f.device.brand')}${fld('model', 'f.device.model')}
      ${fld('imei', 'search.imei', { inputmode: 'numeric' })}${fld('fault_code', 'f.fault.code', { placeholder: 'NO_DISPLAY' })}${fld('fault_desc', 'f.fault.description')}
      ${fld('invoice_date', 'f.purchase.invoice_date', { placeholder: today() })}${fld('price', 'f.purchase.price_cents', { inputmode: 'decimal' })}
      ${fld('request', 'f.request', { options: REQUESTS.map((x) => [x, t(`req.${x}`)]) })}</div></fieldset>` : null}
    <div class="form-actions"><button class="btn btn-primary" type="submit" id="submit-call" disabled=${busy}>${t('call.record')}</button></div>
  </form>`;
}

const callMemory = { phone: '', ticket_id: '', category: '', from: '', to: '', q: '' };
function CallLog({ tick }) {
  const [f, setF] = useState({ ...callMemory });
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const [cursors, setCursors] = useState([]);
  async function load(after) {
    setError(null);
    try { setRes(await api('GET', `/v1/calls${qs({ ...f, after, limit: 20 })}`)); } catch (e) { setError(e); setRes({ calls: [] }); }
  }
  function search(ev) { if (ev) ev.preventDefault(); Object.assign(callMemory, f); setCursors([]); load(undefined); }
  useEffect(() => { search(); }, [tick]);
  const qe = queryFieldError(error, ['from', 'to', 'phone', 'ticket_id']);
  const set = (k) => (x) => setF({ ...f, [k]: x });
  return html`<${Card} title=${t('call.log')}>
    <form class="filters" onSubmit=${search} id="call-filters">
      <${FilterInput} name="cf.phone" label=${t('f.customer.phone')} value=${f.phone} set=${set('phone')} error=${qe.phone} />
      <${FilterInput} name="cf.ticket" label=${t('col.id')} value=${f.ticket_id} set=${set('ticket_id')} error=${qe.ticket_id} />
      <${Field} name="cf.category" label=${t('call.category')}><select ...${inputProps('cf.category')} value=${f.category} onChange=${(e) => setF({ ...f, category: e.target.value })}>
        <option value="">${t('more.all')}</option>${CALL_CATS.map((x) => html`<option value=${x}>${t(`ccat.${x}`)}</option>`)}</select><//>
      <${FilterInput} name="cf.from" label=${t('more.from')} value=${f.from} set=${set('from')} error=${qe.from} placeholder=${today()} />
      <${FilterInput} name="cf.to" label=${t('more.to')} value=${f.to} set=${set('to')} error=${qe.to} />
      <${FilterInput} name="cf.q" label=${t('call.text')} value=${f.q} set=${set('q')} />
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="call-search">${t('common.search')}</button></div>
    </form>
    ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${error} />`}
    <div class="table-card"><table class="table" id="calls-table"><thead><tr><th>${t('call.when')}</th><th>${t('call.category')}</th><th>${t('col.customer')}</th>
      <th>${t('call.about')}</th><th>${t('call.summary')}</th><th>${t('call.outcome')}</th><th>${t('call.agent')}</th></tr></thead>
      <tbody>${rowsOr((res && res.calls) || [], 7, (c) => html`<tr id=${`call-${c.id}`}><td>${fmtTime(c.started_at)}<div class="muted">${t(`dir.${c.direction}`)} · ${t(`cch.${c.channel}`)} · ${dur(c.duration_s)}</div></td>
        <td><${Tag} color=${CAT_COLOR[c.category]}>${t(`ccat.${c.category}`)}<//></td>
        <td>${c.customer_name || '—'}<div class="muted mono">${c.customer_phone || ''}</div></td>
        <td>${c.ticket_id ? html`<a class="mono" href=${`#/tickets/${c.ticket_id}`}>${c.ticket_id}</a>` : null}
          ${c.complaint_id ? html`<div><a class="mono" href=${`#/complaints/${c.complaint_id}`}>${c.complaint_id}</a></div>` : c.complaint_pending ? html`<div class="muted">${t('call.complaint_pending')}</div>` : null}
          ${!c.ticket_id && !c.complaint_id && !c.complaint_pending ? '—' : null}<div class="muted">${c.center || t('call.head_office')}</div></td>
        <td>${c.summary}</td><td>${t(`cout.${c.outcome}`)}</td><td>${c.agent || '—'}</td></tr>`, !res)}</tbody></table></div>
    ${res ? html`<div class="pager">
      <button class="btn" type="button" disabled=${!cursors.length} onClick=${() => { setCursors([]); load(undefined); }}>${t('common.first')}</button>
      <button class="btn" type="button" disabled=${!res.next} onClick=${() => { setCursors([...cursors, res.next]); load(res.next); }}>${t('common.next')}</button></div>` : null}
  <//>`;
}

// The statistics: calls by hour of the day as columns, by category as bars, by centre as a table.
function HourChart({ rows }) {
  const by = Object.fromEntries(rows.map((r) => [Number(r.key), r.count || 0]));
  const max = Math.max(1, ...Object.values(by));
  const w = 16, h = 100;
  return html`<svg class="bars" id="chart-hours" role="img" aria-label=${t('call.by_hour')} width="100%" height=${h + 24} viewBox=${`0 0 ${24 * w + 4} ${h + 24}`} preserveAspectRatio="xMinYMin meet">
    <line x1="0" y1=${h} x2=${24 * w + 4} y2=${h} class="axis" />
    ${Array.from({ length: 24 }, (_, i) => { const n = by[i] || 0; const bh = n ? Math.max(2, (n / max) * (h - 14)) : 0;
      return html`<g>${n ? html`<rect x=${i * w + 2} y=${h - bh} width=${w - 4} height=${bh} rx="2" class="bar"><title>${`${String(i).padStart(2, '0')}:00 · ${n}`}</title></rect>` : null}
        ${n ? html`<text x=${i * w + w / 2} y=${h - bh - 3} class="bar-value" text-anchor="middle">${n}</text>` : null}
        ${i % 3 === 0 ? html`<text x=${i * w + w / 2} y=${h + 14} class="bar-label" text-anchor="middle">${String(i).padStart(2, '0')}</text>` : null}</g>`; })}</svg>`;
}
function CallStats({ tick }) {
  const [from, setFrom] = useState(sinceDays(29));
  const [to, setTo] = useState(today());
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    try { setS(await api('GET', `/v1/calls/stats${qs({ from, to })}`)); } catch (e) { setError(e); setS(null); }
  }
  useEffect(() => { load(); }, [tick]);
  const qe = queryFieldError(error, ['from', 'to']);
  return html`<${Card} title=${t('call.stats')} extra=${s ? html`<span id="calls-total">${t('call.total', { n: s.total || 0 })}</span>` : null}>
    <form class="filters" onSubmit=${load} id="stats-filters">
      <${FilterInput} name="cs.from" label=${t('more.from')} value=${from} set=${setFrom} error=${qe.from} />
      <${FilterInput} name="cs.to" label=${t('more.to')} value=${to} set=${setTo} error=${qe.to} />
      <div class="filter-actions"><button class="btn" type="submit" id="stats-search">${t('common.search')}</button></div></form>
    ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${error} />`}
    ${s ? html`<div class="grid2">
      <div><h3>${t('call.by_category')}</h3>${(s.by_category || []).length ? html`<${Bars} id="chart-categories" rows=${s.by_category.map((r) => ({ ...r, key: t(`ccat.${r.key}`) }))} value=${(r) => r.count} label=${t('call.by_category')} />` : html`<p class="muted">${t('common.none')}</p>`}</div>
      <div><h3>${t('call.by_hour')}</h3><${HourChart} rows=${s.by_hour || []} /></div></div>
      <div class="table-card"><table class="table" id="calls-by-center"><thead><tr><th>${t('col.center')}</th><th class="num">${t('call.count')}</th><th class="num">${t('cout.answered')}</th>
        <th class="num">${t('cout.transferred')}</th><th class="num">${t('cout.callback_needed')}</th><th class="num">${t('call.avg')}</th></tr></thead>
        <tbody>${rowsOr(s.by_center || [], 6, (r) => html`<tr><td>${r.key === '(head office)' ? t('call.head_office') : r.key}</td><td class="num">${r.count}</td><td class="num">${r.answered}</td>
          <td class="num">${r.transferred}</td><td class="num">${r.callback_needed}</td><td class="num">${dur(r.avg_duration_s)}</td></tr>`)}</tbody></table></div>` : null}
  <//>`;
}

function Calls({ me }) {
  const [tick, setTick] = useState(0);
  const [msg, setMsg] = useState(null);
  return html`<div class="page"><div class="page-head"><h1>${t('call.title')}</h1></div>
    ${can(me, DESK_ROLES()) ? html`<${Card} title=${t('call.new')}><${CallForm} onDone=${(r) => { setMsg(r); setTick(tick + 1); }} /><//>` : null}
    ${msg ? html`<div class="alert alert-success" role="status" id="call-msg">${t('call.recorded', { id: msg.id })}
      ${msg.ticket_id ? html` ${t('call.opened_ticket')} <a class="mono" id="call-ticket-link" href=${`#/tickets/${msg.ticket_id}`}>${msg.ticket_id}</a>` : null}
      ${msg.complaint_id ? html` ${t('call.opened_complaint')} <a class="mono" href=${`#/complaints/${msg.complaint_id}`}>${msg.complaint_id}</a>`
        : msg.complaint_pending ? html` ${t('call.complaint_pending')}` : null}</div>` : null}
    <${CallLog} tick=${tick} />
    <${CallStats} tick=${tick} />
  </div>`;
}

// ---- promised deadlines: at risk / overdue, the per-centre report, service levels -----------

function Promises({ me }) {
  const [status, setStatus] = useState('all');
  const [list, setList] = useState(null);
  const [listErr, setListErr] = useState(null);
  const [from, setFrom] = useState(sinceDays(29));
  const [to, setTo] = useState(today());
  const [rep, setRep] = useState(null);
  const [repErr, setRepErr] = useState(null);
  const levels = useGet('/v1/service-levels');
  const [msg, setMsg] = useState('');
  async function loadList(ev) {
    if (ev) ev.preventDefault();
    setListErr(null);
    try { setList(await api('GET', `/v1/promises${qs({ status, limit: 100 })}`)); } catch (e) { setListErr(e); setList({ tickets: [] }); }
  }
  async function loadRep(ev) {
    if (ev) ev.preventDefault();
    setRepErr(null);
    try { setRep(await api('GET', `/v1/reports/promises${qs({ from, to })}`)); } catch (e) { setRepErr(e); setRep(null); }
  }
  useEffect(() => { loadList(); loadRep(); }, []);
  const qe = queryFieldError(repErr, ['from', 'to']);
  const lv = levels.data || {};
  return html`<div class="page"><div class="page-head"><h1>${t('pr.title')}</h1></div>
    <${Card} title=${t('pr.running')}>
      <form class="filters" onSubmit=${loadList} id="promise-filters">
        <${Field} name="pr.status" label=${t('col.state')}><select ...${inputProps('pr.status')} value=${status} onChange=${(e) => setStatus(e.target.value)}>
          ${['all', 'at_risk', 'overdue'].map((x) => html`<option value=${x}>${t(`prs.${x}`)}</option>`)}</select><//>
        <div class="filter-actions"><button class="btn btn-primary" type="submit" id="promise-search">${t('common.search')}</button></div></form>
      <${ErrorBox} error=${listErr} />
      <div class="table-card"><table class="table" id="promises-table"><thead><tr><th>${t('col.id')}</th><th>${t('col.center')}</th><th>${t('col.state')}</th>
        <th>${t('col.device')}</th><th>${t('pr.promised_at')}</th><th>${t('pr.level')}</th></tr></thead>
        <tbody>${rowsOr((list && list.tickets) || [], 6, (tk) => html`<tr class=${tk.overdue ? 'row-overdue' : ''}><td><a class="mono" href=${`#/tickets/${tk.id}`}>${tk.id}</a></td>
          <td>${tk.center}</td><td><${StateTag} state=${tk.state} /></td><td>${tk.device ? `${tk.device.brand || ''} ${tk.device.model || ''}` : '—'}</td>
          <td class=${tk.overdue ? 'overdue' : ''}>${fmtTime(tk.promised_at)} <${Tag} color=${tk.overdue ? 'red' : 'orange'}>${t(tk.overdue ? 'prs.overdue' : 'prs.at_risk')}<//>
            <div class="muted">${t('pr.hours', { n: tk.promise_hours || 0 })}</div></td>
          <td>${t(`plv.${tk.promise_level || 'desk'}`)}</td></tr>`, !list)}</tbody></table></div>
    <//>
    <${Card} title=${t('pr.report')}>
      <form class="filters" onSubmit=${loadRep} id="promise-report-filters">
        <${FilterInput} name="prr.from" label=${t('more.from')} value=${from} set=${setFrom} error=${qe.from} />
        <${FilterInput} name="prr.to" label=${t('more.to')} value=${to} set=${setTo} error=${qe.to} />
        <div class="filter-actions"><button class="btn" type="submit" id="promise-report-search">${t('common.search')}</button></div></form>
      ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${repErr} />`}
      <div class="table-card"><table class="table" id="promise-report"><thead><tr><th>${t('col.center')}</th><th>${t('users.region')}</th><th class="num">${t('pr.open')}</th>
        <th class="num">${t('prs.at_risk')}</th><th class="num">${t('prs.overdue')}</th><th class="num">${t('pr.escalated')}</th><th class="num">${t('pr.kept')}</th>
        <th class="num">${t('pr.missed')}</th><th class="num">${t('pr.kept_pct')}</th></tr></thead>
        <tbody>${rowsOr((rep && rep.rows) || [], 9, (r) => html`<tr><td class="mono">${r.center}</td><td>${r.region || '—'}</td><td class="num">${r.open || 0}</td>
          <td class="num">${r.at_risk || 0}</td><td class=${`num${r.overdue ? ' overdue' : ''}`}>${r.overdue || 0}</td><td class="num">${r.escalated || 0}</td>
          <td class="num">${r.kept || 0}</td><td class="num">${r.missed || 0}</td><td class="num">${r.kept_pct === undefined || r.kept_pct === null ? '—' : `${r.kept_pct}%`}</td></tr>`, !rep && !repErr)}</tbody></table></div>
    <//>
    <${Card} title=${t('pr.levels')} extra=${levels.data ? html`<span class="muted" id="default-hours">${t('pr.default', { n: lv.default_hours || 0 })}</span>` : null}>
      <${ErrorBox} error=${levels.error} />
      ${msg ? html`<div class="alert alert-success" role="status" id="sl-msg">${msg}</div>` : null}
      <div class="table-card"><table class="table" id="levels-table"><thead><tr><th>${t('col.center')}</th><th>${t('f.device.category')}</th><th class="num">${t('pr.hours_col')}</th>
        <th>${t('pr.updated')}</th></tr></thead>
        <tbody>${rowsOr(lv.levels || [], 4, (l) => html`<tr><td class="mono">${l.center === '*' ? t('price.any') : l.center}</td><td>${l.category === '*' ? t('price.any') : t(`cat.${l.category}`)}</td>
          <td class="num">${l.hours}</td><td>${l.updated_by || '—'}<div class="muted">${fmtTime(l.updated_at)}</div></td></tr>`, levels.loading && !levels.data)}</tbody></table></div>
      ${me.role === 'admin' ? html`<details class="add-form"><summary id="add-level">${t('pr.set_level')}</summary>
        <${MiniForm} path="/v1/service-levels" formId="sl" submitLabel=${t('common.save')} initial=${{ center: '*', category: 'phone_host', hours: '' }}
          onDone=${(r) => { setMsg(t('pr.level_saved', { center: r.center || '', category: r.category || '', n: r.hours ?? '' })); levels.reload(); }}
          fields=${[{ name: 'center', label: 'col.center', placeholder: 'SH01' }, { name: 'category', label: 'f.device.category', options: [['*', t('price.any')], ...CATEGORIES.map((c) => [c, t(`cat.${c}`)])] },
            { name: 'hours', label: 'pr.hours_col', inputmode: 'numeric', placeholder: '48' }]}
          build=${(v, e) => { if (!/^\d{1,4}$/.test(String(v.hours || '').trim())) e.hours = t('pr.hours_bad');
            return { center: String(v.center || '').trim(), category: v.category, hours: Number(v.hours) }; }} />
        <p class="hint">${t('pr.level_hint')}</p></details>` : null}
    <//>
  </div>`;
}

// ---- quality report -------------------------------------------------------------------------

const QUALITY_DIMS = [['by_brand', 'q.by_brand'], ['by_model', 'q.by_model'], ['by_fault_code', 'q.by_fault'], ['by_part', 'q.by_part'], ['repeat_hotspots', 'q.hotspots']];
const qualityMemory = { from: '', to: '', manufacturer: '', brand: '' };
function QualityTable({ rows, id }) {
  return html`<table class="table" id=${id}><thead><tr><th>${t('q.key')}</th><th class="num">${t('call.count')}</th><th class="num">${t('q.previous')}</th><th class="num">${t('q.change')}</th></tr></thead>
    <tbody>${rowsOr(rows || [], 4, (r) => html`<tr><td class="mono">${r.key}</td><td class="num">${r.count || 0}</td><td class="num">${r.previous || 0}</td>
      <td class=${`num${r.change_pct > 0 ? ' overdue' : ''}`}>${pct(r.change_pct)}</td></tr>`)}</tbody></table>`;
}
function Quality() {
  const [f, setF] = useState({ ...qualityMemory, from: qualityMemory.from || sinceDays(29), to: qualityMemory.to || today() });
  const [rep, setRep] = useState(null);
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    Object.assign(qualityMemory, f);
    setError(null);
    try { setRep(await api('GET', `/v1/reports/quality${qs(f)}`)); } catch (e) { setError(e); setRep(null); }
  }
  useEffect(() => { load(); }, []);
  const qe = queryFieldError(error, ['from', 'to']);
  const set = (k) => (x) => setF({ ...f, [k]: x });
  return html`<div class="page"><div class="page-head"><h1>${t('q.title')}</h1>
      <a class="btn btn-primary" id="quality-csv" download=${`quality-${f.from}-${f.to}.csv`} href=${`/v1/reports/quality/csv${qs(f)}`}>${t('q.csv')}</a></div>
    <form class="card filter-bar" onSubmit=${load} id="quality-filters"><div class="filters">
      <${FilterInput} name="q.from" label=${t('more.from')} value=${f.from} set=${set('from')} error=${qe.from} />
      <${FilterInput} name="q.to" label=${t('more.to')} value=${f.to} set=${set('to')} error=${qe.to} />
      <${FilterInput} name="q.manufacturer" label=${t('fin.manufacturer')} value=${f.manufacturer} set=${set('manufacturer')} />
      <${FilterInput} name="q.brand" label=${t('f.device.brand')} value=${f.brand} set=${set('brand')} />
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="quality-search">${t('common.search')}</button></div></div></form>
    ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${error} />`}
    ${rep ? html`<div class="card" id="quality-summary"><${Desc} items=${[[t('q.period'), `${fmtDate(rep.from)} – ${fmtDate(rep.to)}`],
        [t('q.repairs'), html`<strong id="quality-repairs">${rep.repairs || 0}</strong>`], [t('q.previous_period', { from: fmtDate(rep.previous_from), to: fmtDate(rep.previous_to) }), rep.previous_repairs || 0],
        [t('q.repeats'), rep.repeats || 0]]} /></div>
      <div class="grid2">
        <${Card} title=${t('q.trend')}>${(rep.by_month || []).length ? html`<${Bars} id="chart-months" rows=${rep.by_month} value=${(r) => r.count} label=${t('q.trend')} />` : html`<p class="muted">${t('common.none')}</p>`}
          <${QualityTable} rows=${rep.by_month} id="q-by_month" /><//>
        ${QUALITY_DIMS.map(([k, label]) => html`<${Card} title=${t(label)}><${QualityTable} rows=${rep[k]} id=${`q-${k}`} /><//>`)}
      </div>
      <p class="hint">${t('q.hint')}</p>` : !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
  </div>`;
}

// ---- the customers' notifications and opt-outs -----------------------------------------------

const NTF_STATES = ['pending', 'sent', 'failed', 'suppressed'];
const NTF_COLOR = { pending: 'gold', sent: 'green', failed: 'red', suppressed: 'default' };
function OptForm() {
  const [phone, setPhone] = useState('');
  const [note, setNote] = useState('');
  const [err, setErr] = useState(null);
  const [fieldErr, setFieldErr] = useState('');
  const [res, setRes] = useState(null);
  async function send(which) {
    setErr(null); setRes(null); setFieldErr('');
    if (!/^1\d{10}$/.test(phone)) { setFieldErr(t('v.phone')); return; }
    try { setRes(await api('POST', `/v1/notifications/${which}`, which === 'opt-out' ? { phone, note: note || undefined } : { phone }, newKey())); }
    catch (e) { const fe = fieldErrors(e); if (fe.phone) setFieldErr(fe.phone); else setErr(e); }
  }
  return html`<form class="mini-form" id="form-opt" onSubmit=${(e) => { e.preventDefault(); send('opt-out'); }} novalidate>
    <${ErrorBox} error=${err} />
    <div class="row-fields">
      <${Field} name="opt.phone" label=${t('f.customer.phone')} error=${fieldErr}><input ...${inputProps('opt.phone', fieldErr)} type="tel" value=${phone} onInput=${(e) => setPhone(e.target.value.trim())} /><//>
      <${Field} name="opt.note" label=${t('f.note')}><input ...${inputProps('opt.note')} value=${note} onInput=${(e) => setNote(e.target.value)} /><//>
    </div>
    <div class="form-actions"><button class="btn btn-danger" type="submit" id="opt-out">${t('ntf.opt_out')}</button>
      <button class="btn" type="button" id="opt-in" onClick=${() => send('opt-in')}>${t('ntf.opt_in')}</button></div>
    ${res ? html`<div class="alert alert-success" role="status" id="opt-msg">${t(res.opted_out ? 'ntf.now_out' : 'ntf.now_in', { phone: res.phone || phone })}</div>` : null}
  </form>`;
}
function Notifications({ me }) {
  const [f, setF] = useState({ ticket_id: '', state: '', channel: '' });
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const [cursors, setCursors] = useState([]);
  async function load(after) {
    setError(null);
    try { setRes(await api('GET', `/v1/notifications${qs({ ...f, after, limit: 30 })}`)); } catch (e) { setError(e); setRes({ notifications: [] }); }
  }
  function search(ev) { if (ev) ev.preventDefault(); setCursors([]); load(undefined); }
  useEffect(() => { search(); }, []);
  return html`<div class="page"><div class="page-head"><h1>${t('ntf.title')}</h1></div>
    ${can(me, CUSTOMER_ROLES) ? html`<${Card} title=${t('ntf.consent')}><p class="hint">${t('ntf.consent_hint')}</p><${OptForm} /><//>` : null}
    <form class="card filter-bar" onSubmit=${search} id="ntf-filters"><div class="filters">
      <${FilterInput} name="ntf.ticket" label=${t('col.id')} value=${f.ticket_id} set=${(x) => setF({ ...f, ticket_id: x })} />
      <${Field} name="ntf.state" label=${t('col.state')}><select ...${inputProps('ntf.state')} value=${f.state} onChange=${(e) => setF({ ...f, state: e.target.value })}>
        <option value="">${t('more.all')}</option>${NTF_STATES.map((x) => html`<option value=${x}>${t(`ntfs.${x}`)}</option>`)}</select><//>
      <${Field} name="ntf.channel" label=${t('cp.channel')}><select ...${inputProps('ntf.channel')} value=${f.channel} onChange=${(e) => setF({ ...f, channel: e.target.value })}>
        <option value="">${t('more.all')}</option>${['sms', 'webhook'].map((x) => html`<option value=${x}>${t(`nch.${x}`)}</option>`)}</select><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="ntf-search">${t('common.search')}</button></div></div></form>
    <${ErrorBox} error=${error} />
    <div class="card table-card"><table class="table" id="notifications-table"><thead><tr><th>${t('ntf.created')}</th><th>${t('ntf.kind')}</th><th>${t('col.id')}</th>
      <th>${t('f.customer.phone')}</th><th>${t('ntf.text')}</th><th>${t('col.state')}</th><th>${t('ntf.delivery')}</th></tr></thead>
      <tbody>${rowsOr((res && res.notifications) || [], 7, (n) => html`<tr id=${`ntf-${n.id}`}><td>${fmtTime(n.created_at)}<div class="muted">${t(`nch.${n.channel}`)} · v${n.template_version || 1}</div></td>
        <td>${t(`nk.${n.kind}`)}</td><td>${n.ticket_id ? html`<a class="mono" href=${`#/tickets/${n.ticket_id}`}>${n.ticket_id}</a>` : '—'}<div class="muted">${n.center || ''}</div></td>
        <td class="mono">${n.phone || '—'}</td><td class="ntf-text">${n.text}</td>
        <td><${Tag} color=${NTF_COLOR[n.state]}>${t(`ntfs.${n.state}`)}<//>${n.held_for_quiet_hours ? html`<div class="muted">${t('ntf.quiet')}</div>` : null}</td>
        <td>${n.sent_at ? fmtTime(n.sent_at) : n.next_attempt_at && n.state === 'pending' ? t('ntf.next', { at: fmtTime(n.next_attempt_at) }) : '—'}
          <div class="muted">${t('ntf.attempts', { n: n.attempts || 0 })}${n.last_status ? ` · HTTP ${n.last_status}` : ''}</div>
          ${n.last_error ? html`<div class="inline-error">${n.last_error}</div>` : null}</td></tr>`, !res)}</tbody></table>
      ${res ? html`<div class="pager">
        <button class="btn" type="button" disabled=${!cursors.length} onClick=${() => { setCursors([]); load(undefined); }}>${t('common.first')}</button>
        <button class="btn" type="button" disabled=${!res.next} onClick=${() => { setCursors([...cursors, res.next]); load(res.next); }}>${t('common.next')}</button></div>` : null}</div>
  </div>`;
}

// ---- integrators' webhooks (admin) -----------------------------------------------------------

const WH_COLOR = { active: 'green', paused: 'orange', deleted: 'default' };
const DLV_COLOR = { pending: 'gold', delivered: 'green', failed: 'red' };
function DeleteButton({ path, label, id, onDone }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function del() {
    if (!window.confirm(t('wh.confirm_delete'))) return;
    setBusy(true); setError(null);
    try { await api('DELETE', path, undefined, newKey()); onDone && onDone(); } catch (e) { setError(e); }
    setBusy(false);
  }
  return html`<span class="post-button"><button type="button" class="btn btn-sm btn-danger" id=${id} disabled=${busy} onClick=${del}>${label}</button>
    ${error ? html`<span class="inline-error" role="alert">${errText(error)}</span>` : null}</span>`;
}
function Deliveries({ id }) {
  const [state, setState] = useState('');
  const d = useGet(`/v1/webhooks/${encodeURIComponent(id)}/deliveries${qs({ state, limit: 50 })}`, [id, state]);
  return html`<div class="deliveries" id=${`deliveries-${id}`}>
    <div class="filters"><${Field} name=${`dlv.${id}`} label=${t('col.state')}><select ...${inputProps(`dlv.${id}`)} value=${state} onChange=${(e) => setState(e.target.value)}>
      <option value="">${t('more.all')}</option>${['pending', 'delivered', 'failed'].map((x) => html`<option value=${x}>${t(`dlv.${x}`)}</option>`)}</select><//></div>
    <${ErrorBox} error=${d.error} />
    <table class="table"><thead><tr><th>${t('wh.event')}</th><th>${t('wh.type')}</th><th>${t('col.state')}</th><th class="num">${t('ntf.attempts_col')}</th><th>${t('wh.last')}</th><th>${t('ntf.created')}</th></tr></thead>
      <tbody>${rowsOr((d.data && d.data.deliveries) || [], 6, (x) => html`<tr><td class="mono">${x.event_id}${x.redelivery ? html` <${Tag}>${t('wh.redelivery')}<//>` : null}</td><td class="mono">${x.type}</td>
        <td><${Tag} color=${DLV_COLOR[x.state]}>${t(`dlv.${x.state}`)}<//></td><td class="num">${x.attempts || 0}</td>
        <td>${x.delivered_at ? fmtTime(x.delivered_at) : x.last_status ? `HTTP ${x.last_status}` : '—'}${x.last_error ? html`<div class="inline-error">${x.last_error}</div>` : null}
          ${x.state === 'pending' && x.next_attempt_at ? html`<div class="muted">${t('ntf.next', { at: fmtTime(x.next_attempt_at) })}</div>` : null}</td>
        <td>${fmtTime(x.created_at)}</td></tr>`, d.loading && !d.data)}</tbody></table></div>`;
}
function Webhooks() {
  const hooks = useGet('/v1/webhooks');
  const [open, setOpen] = useState('');
  const [msg, setMsg] = useState('');
  const list = ((hooks.data && hooks.data.webhooks) || []).filter((w) => w.state !== 'deleted');
  const p = (w, a) => `/v1/webhooks/${encodeURIComponent(w.id)}/${a}`;
  return html`<div class="page"><div class="page-head"><h1>${t('wh.title')}</h1></div>
    ${msg ? html`<div class="alert alert-success" role="status" id="wh-msg">${msg}</div>` : null}
    <${Card} title=${t('wh.list')}>
      <${ErrorBox} error=${hooks.error} />
      <div class="table-card"><table class="table" id="webhooks-table"><thead><tr><th>${t('wh.url')}</th><th>${t('wh.types')}</th><th>${t('wh.scope')}</th><th>${t('col.state')}</th>
        <th class="num">${t('dlv.pending')}</th><th class="num">${t('dlv.delivered')}</th><th class="num">${t('dlv.failed')}</th><th></th></tr></thead>
        <tbody>${rowsOr(list, 8, (w) => html`<tr id=${`wh-${w.id}`}><td class="mono wrap">${w.url}<div class="muted">${w.description || ''} · ${w.id}</div></td>
          <td class="mono">${(w.event_types || []).join(', ')}</td><td>${t(`role.${w.role || 'admin'}`)}${w.center ? ` · ${w.center}` : w.region ? ` · ${w.region}` : ''}</td>
          <td><${Tag} color=${WH_COLOR[w.state]}>${t(`whs.${w.state}`)}<//></td>
          <td class="num">${w.pending || 0}</td><td class="num">${w.delivered || 0}</td><td class=${`num${w.failed ? ' overdue' : ''}`}>${w.failed || 0}</td>
          <td class="row-actions">
            ${w.state === 'active' ? html`<${PostButton} path=${p(w, 'pause')} label=${t('wh.pause')} id=${`pause-${w.id}`} onDone=${() => { setMsg(t('wh.paused', { id: w.id })); hooks.reload(); }} />`
              : html`<${PostButton} path=${p(w, 'resume')} label=${t('wh.resume')} id=${`resume-${w.id}`} onDone=${() => { setMsg(t('wh.resumed', { id: w.id })); hooks.reload(); }} />`}
            <button type="button" class="btn btn-sm" id=${`show-dlv-${w.id}`} onClick=${() => setOpen(open === w.id ? '' : w.id)}>${t('wh.deliveries')}</button>
            <${DeleteButton} path=${`/v1/webhooks/${encodeURIComponent(w.id)}`} label=${t('wh.delete')} id=${`delete-${w.id}`} onDone=${() => { setMsg(t('wh.deleted', { id: w.id })); hooks.reload(); }} />
          </td></tr>`, hooks.loading && !hooks.data)}</tbody></table></div>
      ${open ? html`<h3>${t('wh.deliveries_of', { id: open })}</h3><${Deliveries} id=${open} />` : null}
    <//>
    <${Card} title=${t('wh.new')}>
      <${MiniForm} path="/v1/webhooks" formId="wh" submitLabel=${t('wh.create')} initial=${{ role: 'admin' }}
        onDone=${(r) => { setMsg(t('wh.created', { id: r.id })); hooks.reload(); }}
        fields=${[{ name: 'url', label: 'wh.url', placeholder: 'https://erp.example.com/hooks/aftersales' }, { name: 'event_types', label: 'wh.types', placeholder: 'intake.TicketClosed, warranty.*' },
          { name: 'secret', label: 'wh.secret', type: 'password' }, { name: 'role', label: 'wh.scope', options: ['admin', 'reviewer', 'region', 'center'].map((x) => [x, t(`role.${x}`)]) },
          { name: 'center', label: 'col.center', placeholder: 'SH01' }, { name: 'region', label: 'users.region', placeholder: 'east' }, { name: 'description', label: 'wh.description' }]}
        build=${(v, e) => {
          const types = String(v.event_types || '').split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);
          if (!/^https?:\/\/\S+$/.test(String(v.url || '').trim())) e.url = t('wh.url_bad');
          if (!types.length) e.event_types = t('v.required', { field: t('wh.types') });
          if (String(v.secret || '').length < 16) e.secret = t('wh.secret_bad');
          return { url: String(v.url || '').trim(), event_types: types, secret: v.secret, role: v.role || 'admin', center: v.center || undefined,
            region: v.region || undefined, description: v.description || undefined };
        }} />
      <p class="hint">${t('wh.hint')}</p>
    <//>
  </div>`;
}

// ---- a manufacturer claim: its page (finance) and the printed claim form ----------------------

const CLAIM_COLOR = { open: 'blue', submitted: 'gold', approved: 'green', partially_approved: 'orange', rejected: 'red', paid: 'green' };
const ClaimTag = ({ st }) => html`<${Tag} color=${CLAIM_COLOR[st]}>${t(`claim.${st}`)}<//>`;
function claimHistory(c) {
  return [['created', c.created_at], ['submitted', c.submitted_at], ['decided', c.decided_at], ['paid', c.paid_at]].filter(([, at]) => at);
}
function ClaimLines({ c, doc }) {
  const waiting = new Set(c.waiting_lines || []);
  return html`<table class=${`table${doc ? ' doc-table' : ''}`} id=${doc ? 'doc-claim-lines' : 'claim-lines'}><thead><tr><th>#</th><th>${t('col.id')}</th><th>${t('col.center')}</th><th>${t('clm.kind')}</th>
    <th>${t('clm.code')}</th><th class="num">${t('tr.qty')}</th><th class="num">${t('fin.claimed')}</th><th class="num">${t('fin.approved')}</th>
    ${doc ? null : html`<th>${t('col.state')}</th><th>${t('clm.part_back')}</th>`}</tr></thead>
    <tbody>${rowsOr(c.lines || [], doc ? 8 : 10, (l) => html`<tr><td>${l.line_no}</td><td class="mono">${l.ticket_id}</td><td>${l.center || '—'}</td><td>${t(`clk.${l.kind}`) === `clk.${l.kind}` ? l.kind : t(`clk.${l.kind}`)}</td>
      <td><span class="mono">${l.code}</span><div class="muted">${l.description || ''}</div></td><td class="num">${l.qty || 1}</td><td class="num">${fmtMoney(l.claimed_cents || 0)}</td>
      <td class="num">${l.approved_cents === undefined ? '—' : fmtMoney(l.approved_cents)}</td>
      ${doc ? null : html`<td><${ClaimTag} st=${l.state} />${l.reason ? html`<div class="muted">${l.reason}</div>` : null}</td>
        <td>${!l.return_required ? '—' : l.returned ? html`<${Tag} color="green">${t('clm.returned')}<//>` : html`<${Tag} color=${waiting.has(l.line_no) ? 'volcano' : 'gold'}>${t('clm.owed')}<//>`}</td>`}</tr>`)}</tbody>
    <tfoot><tr><th colspan="6">${t('clm.total', { n: (c.lines || []).length })}</th><th class="num" id=${doc ? 'doc-claim-total' : 'claim-total'}>${fmtMoney(c.claimed_cents || 0)}</th>
      <th class="num">${fmtMoney(c.approved_cents || 0)}</th>${doc ? null : html`<th colspan="2"></th>`}</tr></tfoot></table>`;
}
function ClaimDetail({ me, id }) {
  const { data: c, error, reload } = useGet(`/v1/settlement/claims/${encodeURIComponent(id)}`, [id]);
  if (error) return html`<${NotFound} error=${error} />`;
  if (!c) return html`<${Loading} />`;
  const decisions = (c.lines || []).filter((l) => l.approved_cents !== undefined || l.reason || ['approved', 'partially_approved', 'rejected', 'paid'].includes(l.state));
  return html`<div class="page"><div class="page-head"><h1><span class="mono" id="claim-id">${c.id}</span> <${ClaimTag} st=${c.state} /></h1>
      <div><a class="btn" href="#/finance">${t('common.back')}</a> <a class="btn btn-primary" id="print-claim" href=${`#/print/claim/${encodeURIComponent(c.id)}`}>${t('clm.print')}</a></div></div>
    <div class="grid2">
      <${Card} title=${t('clm.facts')}><${Desc} items=${[[t('fin.manufacturer'), c.manufacturer], [t('fin.period'), `${c.period}${c.batch ? ` #${c.batch}` : ''}`],
        [t('fin.claimed'), fmtMoney(c.claimed_cents || 0)], [t('fin.approved'), fmtMoney(c.approved_cents || 0)], [t('fin.paid'), fmtMoney(c.paid_cents || 0)],
        c.reference ? [t('clm.reference'), c.reference] : null, c.paid_date ? [t('clm.paid_date'), fmtDate(c.paid_date)] : null,
        (c.waiting_lines || []).length ? [t('clm.waiting'), c.waiting_lines.join(', ')] : null, c.deferred_to ? [t('clm.deferred'), c.deferred_to] : null]} /><//>
      <${Card} title=${t('ticket.timeline')}><ol class="timeline" id="claim-history">${claimHistory(c).map(([ev, at]) => html`<li><span class="tl-time">${fmtTime(at)}</span>
        <span class="tl-event">${t(`clh.${ev}`)}</span></li>`)}</ol><//>
    </div>
    <${Card} title=${t('clm.lines')}><div class="table-card"><${ClaimLines} c=${c} /></div><//>
    <${ClaimActions} me=${me} c=${c} onDone=${reload} />
    <${Card} title=${t('clm.decisions')}>${decisions.length ? html`<ul class="plain" id="claim-decisions">${decisions.map((l) => html`<li>#${l.line_no} <span class="mono">${l.code}</span>:
      <${ClaimTag} st=${l.state} /> ${l.approved_cents !== undefined ? fmtMoney(l.approved_cents) : ''}${l.reason ? ` — ${l.reason}` : ''}</li>`)}</ul>`
      : html`<p class="muted" id="claim-decisions">${t('clm.no_decision')}</p>`}<//>
  </div>`;
}
function ClaimPrint({ me, id }) {
  const { data: c, error } = useGet(`/v1/settlement/claims/${encodeURIComponent(id)}`, [id]);
  useEffect(() => { document.body.dataset.paper = 'a4'; return () => { delete document.body.dataset.paper; }; }, []);
  if (error) return html`<${NotFound} error=${error} />`;
  if (!c) return html`<${Loading} />`;
  return html`<div class="print-page">
    <div class="print-toolbar no-print"><a class="btn" href=${`#/claims/${encodeURIComponent(c.id)}`}>${t('common.back')}</a>
      <button class="btn btn-primary" type="button" id="do-print" onClick=${() => window.print()}>${t('common.print')}</button></div>
    <article class="doc doc-a4" id="doc">
      <header class="doc-head"><div><div class="doc-org">${t('app.title')}</div><h1>${t('clm.form_title')}</h1>
        <div class="doc-no">${t('fin.claim')}: <strong class="mono" id="doc-claim">${c.id}</strong></div>
        <div>${t('fin.manufacturer')}: <strong id="doc-manufacturer">${c.manufacturer}</strong> · ${t('fin.period')}: ${c.period}${c.batch ? ` #${c.batch}` : ''}</div>
        <div>${t('col.state')}: ${t(`claim.${c.state}`)}${c.submitted_at ? ` · ${t('clh.submitted')} ${fmtDate(c.submitted_at)}` : ''}</div></div>
        <${Qr} text=${c.id} size=${112} /></header>
      <${ClaimLines} c=${c} doc=${true} />
      <p class="doc-terms">${t('clm.form_terms')}</p>
      <footer class="doc-sign"><div>${t('clm.sign_centre')}: ____________</div><div>${t('clm.sign_maker')}: ____________</div>
        <div>${t('print.staff')}: ${me.display_name || me.login} · ${fmtDate(today())}</div></footer>
    </article></div>`;
}


// ---- on-site service orders (上门服务) ---------------------------------------------------------

const SO_STATES = ['requested', 'scheduled', 'dispatched', 'on_site', 'done', 'confirmed', 'cancelled'];
const SO_COLOR = { requested: 'gold', scheduled: 'blue', dispatched: 'blue', on_site: 'orange', done: 'green', confirmed: 'green', cancelled: 'default' };
const SoState = ({ state }) => html`<${Tag} color=${SO_COLOR[state] || 'default'}>${t(`so.state.${state}`)}<//>`;
const onsiteMemory = { state: '', date: '', status: '' };
const window2 = (o) => `${fmtTime(o.window_start)} – ${fmtTime(o.window_end)}`;

function Workload() {
  const [date, setDate] = useState(today());
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    try { setRes(await api('GET', `/v1/technicians/workload${qs({ date })}`)); } catch (e) { setError(e); setRes(null); }
  }
  useEffect(() => { load(); }, []);
  const qe = queryFieldError(error, ['date']);
  return html`<${Card} title=${t('so.workload')}>
    <form class="filters" onSubmit=${load} id="workload-filters">
      <${FilterInput} name="wl.date" label=${t('so.date')} value=${date} set=${setDate} error=${qe.date} />
      <div class="filter-actions"><button class="btn" type="submit" id="workload-search">${t('common.search')}</button></div></form>
    ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${error} />`}
    <div class="table-card"><table class="table" id="workload-table"><thead><tr><th>${t('so.technician')}</th><th>${t('col.center')}</th><th>${t('so.skills')}</th>
      <th class="num">${t('so.orders')}</th><th class="num">${t('so.open')}</th><th>${t('so.order_ids')}</th></tr></thead>
      <tbody>${rowsOr((res && res.rows) || [], 6, (w) => html`<tr><td>${w.name}<div class="muted mono">${w.login}</div></td><td class="mono">${w.center}</td>
        <td>${(w.skills || []).map((k) => t(`cat.${k}`)).join('、')}</td><td class="num">${w.orders || 0}</td><td class="num">${w.open || 0}</td>
        <td>${(w.order_ids || []).map((id) => html`<a class="mono" href=${`#/onsite/${encodeURIComponent(id)}`}>${id}</a> `)}</td></tr>`, !res && !error)}</tbody></table></div>
  <//>`;
}

// A new on-site order: customer and address, the device's category (the skill the technician
// needs), the appointment window agreed with the customer; the order's page then schedules and
// dispatches it. The form's field names are the API's, so its field errors land at the field.
const NEW_ORDER = { 'customer.name': '', 'customer.phone': '', address: '', category: 'general', brand: '', model: '', serial: '', fault: '',
  window_start: '', window_end: '', center: '', ticket_id: '', note: '' };
function NewOrder({ me }) {
  const scoped = me.role === 'center';
  const fields = [
    { name: 'customer.name', label: 'f.customer.name' }, { name: 'customer.phone', label: 'f.customer.phone', inputmode: 'tel', placeholder: '13712345678' },
    { name: 'address', label: 'so.address', area: true },
    { name: 'category', label: 'so.skill_needed', options: SKILLS.map((x) => [x, t(`cat.${x}`)]) },
    { name: 'brand', label: 'f.device.brand' }, { name: 'model', label: 'f.device.model' }, { name: 'serial', label: 'so.serial' },
    { name: 'fault', label: 'so.fault', area: true },
    { name: 'window_start', label: 'so.window_start', placeholder: '2026-12-09 09:00' }, { name: 'window_end', label: 'so.window_end', placeholder: '2026-12-09 11:00' },
    ...(scoped ? [] : [{ name: 'center', label: 'col.center', placeholder: 'SH01' }]),
    { name: 'ticket_id', label: 'so.ticket', placeholder: 'T00000042' }, { name: 'note', label: 'so.note' },
  ];
  const build = (v, e) => {
    const s = (k) => String(v[k] || '').trim();
    for (const [k, label] of [['customer.name', 'f.customer.name'], ['customer.phone', 'f.customer.phone'], ['address', 'so.address'], ['fault', 'so.fault'],
      ['window_start', 'so.window_start'], ['window_end', 'so.window_end']]) if (!s(k)) e[k] = t('v.required', { field: t(label) });
    if (s('customer.phone') && !/^1\d{10}$/.test(s('customer.phone'))) e['customer.phone'] = t('v.phone');
    const ws = chinaTime(s('window_start')); const we = chinaTime(s('window_end'));
    if (s('window_start') && !ws) e.window_start = t('so.time_bad');
    if (s('window_end') && !we) e.window_end = t('so.time_bad');
    if (ws && we) {
      const span = Date.parse(we) - Date.parse(ws);
      if (span <= 0) e.window_end = t('so.window_order');
      else if (span > 7 * 864e5) e.window_end = t('so.window_long');
    }
    if (s('ticket_id') && !/^T\d{8}$/.test(s('ticket_id'))) e.ticket_id = t('so.ticket_bad');
    if (!scoped && s('center') && !/^[A-Z0-9]{2,8}$/.test(s('center').toUpperCase())) e.center = t('so.center_bad');
    return { customer: { name: s('customer.name'), phone: s('customer.phone') }, address: s('address'), category: v.category || 'general',
      brand: s('brand') || undefined, model: s('model') || undefined, serial: s('serial') || undefined, fault: s('fault'),
      window_start: ws || undefined, window_end: we || undefined, center: scoped ? undefined : s('center').toUpperCase() || undefined,
      ticket_id: s('ticket_id') || undefined, note: s('note') || undefined };
  };
  return html`<details class="add-form card" id="so-new"><summary id="so-new-open">${t('so.new')}</summary>
    <p class="hint">${t('so.new_hint')}</p>
    <${MiniForm} path="/v1/service-orders" formId="so-new" submitLabel=${t('so.create')} initial=${NEW_ORDER} fields=${fields} build=${build}
      onDone=${(o) => go(`onsite/${encodeURIComponent(o.id)}`)} /></details>`;
}

// Technicians: the list in scope and the registration form. A technician is a staff account of
// the centre (role `center`, people service) plus intake's technician record (skills: the device
// categories they repair; the region is their centre's). Admin and region managers may create the
// account in the same step; a centre registers the record for an account that exists.
// Every device category (intake.DeviceCategory): a technician's skills and an order's category.
const SKILLS = ['general', 'car', 'phone_host', 'phone_battery', 'phone_charger', 'phone_headset', 'phone_data_card', 'phone_terminal_card'];
const TECH_FIELD = { login: 'login', name: 'name', display_name: 'name', center: 'center', site: 'center', skills: 'skills', password: 'password' };
function apiFieldErrors(x) {
  const fe = {};
  for (const f of (x && x.fields) || []) if (f.field) fe[TECH_FIELD[String(f.field).replace(/\[\d+\]$/, '').split('.')[0]] || 'login'] = `${f.field}: ${f.problem || x.message}`;
  if (!Object.keys(fe).length && x && x.status === 409 && /login|exists|taken/i.test(`${x.code} ${x.message}`)) fe.login = errText(x);
  if (!Object.keys(fe).length && x && x.status === 422 && /weak_password/.test(x.code)) fe.password = errText(x);
  if (!Object.keys(fe).length && x && x.status === 422 && /unknown_center|unknown_site/.test(x.code)) fe.center = errText(x);
  return fe;
}
function TechForm({ me, edit, onDone }) {
  const accounts = me.role === 'admin' || me.role === 'region';
  const blank = { login: '', name: '', center: me.role === 'center' ? me.site || '' : '', skills: ['general'], active: true, account: false, password: '' };
  const [v, setV] = useState(edit ? { ...blank, ...edit, account: false } : blank);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [keys, setKeys] = useState({ user: newKey(), tech: newKey() });
  useEffect(() => { setV(edit ? { ...blank, ...edit, account: false } : blank); setErrors({}); setError(null); }, [edit && edit.login]);
  async function submit(ev) {
    ev.preventDefault();
    setError(null);
    const e = {};
    const login = v.login.trim(); const name = v.name.trim(); const center = v.center.trim().toUpperCase();
    if (!login) e.login = t('v.required', { field: t('tech.login') });
    else if (!/^[a-z0-9][a-z0-9._-]{1,63}$/.test(login)) e.login = t('tech.login_bad');
    if (!name) e.name = t('v.required', { field: t('tech.name') });
    if (!center) e.center = t('v.required', { field: t('col.center') });
    else if (!/^[A-Z0-9]{2,8}$/.test(center)) e.center = t('so.center_bad');
    if (!v.skills.length) e.skills = t('tech.skills_none');
    if (v.account && v.password.length < 10) e.password = t('tech.password_short');
    setErrors(e);
    if (Object.keys(e).length) return;
    setBusy(true);
    try {
      if (v.account) await api('POST', '/v1/users', { login, display_name: name, role: 'center', site: center, password: v.password }, keys.user);
      // A staff account made a moment ago reaches intake by the people stream: until it has,
      // intake answers unknown_technician — wait for it (a few seconds at most) before saying so.
      let r;
      for (let i = 0; ; i++) {
        try {
          r = await api('POST', '/v1/technicians', { login, name, center, skills: v.skills, active: v.active }, keys.tech);
          break;
        } catch (x) {
          if (!(v.account && x.code === 'unknown_technician' && i < 40)) throw x;
          await new Promise((res) => setTimeout(res, 250));
        }
      }
      setKeys({ user: newKey(), tech: newKey() });
      setV(blank);
      onDone(r, v.account);
    } catch (x) {
      const fe = apiFieldErrors(x);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(x);
    } finally { setBusy(false); }
  }
  const set = (n) => (ev) => { setV({ ...v, [n]: ev.target.value }); if (errors[n]) { const x = { ...errors }; delete x[n]; setErrors(x); } };
  const toggle = (k) => { const skills = v.skills.includes(k) ? v.skills.filter((x) => x !== k) : [...v.skills, k]; setV({ ...v, skills }); if (errors.skills) setErrors({ ...errors, skills: undefined }); };
  const input = (n, label, opts = {}) => html`<${Field} name=${`tech.${n}`} label=${t(label)} error=${errors[n]}>
    <input ...${inputProps(`tech.${n}`, errors[n])} type=${opts.type || 'text'} value=${v[n]} readonly=${opts.readonly} autocomplete=${opts.type === 'password' ? 'new-password' : 'off'}
      placeholder=${opts.placeholder || ''} onInput=${set(n)} /><//>`;
  return html`<form class="mini-form" id="form-tech" onSubmit=${submit} novalidate>
    <${ErrorBox} error=${error} />
    <div class="row-fields">
      ${input('login', 'tech.login', { placeholder: 'wu.gang', readonly: !!edit })}${input('name', 'tech.name')}
      ${input('center', 'col.center', { readonly: me.role === 'center' })}
      <${Field} name="tech.active" label=${t('tech.active')}><label class="check"><input type="checkbox" id="f-tech-active" checked=${v.active}
        onChange=${(ev) => setV({ ...v, active: ev.target.checked })} /> ${t('tech.active_yes')}</label><//>
      <${Field} name="tech.skills" label=${t('so.skills')} error=${errors.skills} wide=${true}><div class="checks" id="f-tech-skills" role="group">
        ${SKILLS.map((k) => html`<label class="check"><input type="checkbox" id=${`f-tech-skill-${k}`} checked=${v.skills.includes(k)} onChange=${() => toggle(k)} /> ${t(`cat.${k}`)}</label>`)}</div><//>
      ${accounts && !edit ? html`<${Field} name="tech.account" label=${t('tech.account')} hint=${t('tech.account_hint')}><label class="check">
        <input type="checkbox" id="f-tech-account" checked=${v.account} onChange=${(ev) => setV({ ...v, account: ev.target.checked })} /> ${t('tech.account_yes')}</label><//>` : null}
      ${v.account ? input('password', 'tech.password', { type: 'password' }) : null}
    </div>
    <div class="form-actions"><button class="btn btn-primary" type="submit" id="submit-tech" disabled=${busy}>${t(edit ? 'tech.save' : 'tech.register')}</button></div>
  </form>`;
}
function Technicians({ me }) {
  const [tick, setTick] = useState(0);
  const [edit, setEdit] = useState(null);
  const [msg, setMsg] = useState('');
  const g = useGet('/v1/technicians', [tick]);
  const list = (g.data && g.data.technicians) || [];
  const done = (r, account) => { setMsg(t(account ? 'tech.done_account' : 'tech.done', { login: r.login, center: r.center })); setEdit(null); setTick(tick + 1); };
  return html`<${Card} title=${t('tech.title')}>
    ${msg ? html`<div class="alert alert-success" role="status" id="tech-msg">${msg}</div>` : null}
    <details class="add-form" open=${!!edit} id="tech-add"><summary id="tech-add-open">${edit ? t('tech.edit_of', { login: edit.login }) : t('tech.add')}</summary>
      <${TechForm} me=${me} edit=${edit} onDone=${done} /></details>
    ${g.error ? html`<${ErrorBox} error=${g.error} />` : null}
    <div class="table-card"><table class="table" id="tech-table"><thead><tr><th>${t('so.technician')}</th><th>${t('col.center')}</th><th>${t('users.region')}</th>
      <th>${t('so.skills')}</th><th>${t('tech.active')}</th><th></th></tr></thead>
      <tbody>${rowsOr(list, 6, (x) => html`<tr id=${`tech-${x.login}`}><td>${x.name}<div class="muted mono">${x.login}</div></td><td class="mono">${x.center}</td>
        <td class="mono">${x.region || '—'}</td><td>${(x.skills || []).map((k) => t(`cat.${k}`)).join('、')}</td>
        <td>${x.active === false ? html`<${Tag}>${t('tech.inactive')}<//>` : html`<${Tag} color="green">${t('tech.active_yes')}<//>`}</td>
        <td><button type="button" class="btn btn-sm" id=${`tech-edit-${x.login}`} onClick=${() => setEdit({ login: x.login, name: x.name, center: x.center, skills: x.skills || [], active: x.active !== false })}>${t('tech.edit')}</button></td></tr>`, g.loading && !g.data)}</tbody></table></div>
  <//>`;
}

function Onsite({ me }) {
  const [f, setF] = useState({ ...onsiteMemory });
  const [res, setRes] = useState(null);
  const [cursors, setCursors] = useState([]);
  const [error, setError] = useState(null);
  async function load(after) {
    setError(null);
    try { setRes(await api('GET', `/v1/service-orders${qs({ ...f, after, limit: 20 })}`)); } catch (e) { setError(e); setRes({ orders: [] }); }
  }
  function search(ev) { if (ev) ev.preventDefault(); Object.assign(onsiteMemory, f); setCursors([]); load(undefined); }
  useEffect(() => { search(); }, []);
  const qe = queryFieldError(error, ['date', 'state', 'status']);
  const set = (k) => (x) => setF({ ...f, [k]: x });
  const list = (res && res.orders) || [];
  return html`<div class="page"><div class="page-head"><h1>${t('so.title')}</h1></div>
    <${NewOrder} me=${me} />
    <form class="card filter-bar" onSubmit=${search} id="so-filters"><div class="filters">
      <${Field} name="so.state" label=${t('col.state')}><select ...${inputProps('so.state')} value=${f.state} onChange=${(e) => set('state')(e.target.value)}>
        <option value="">${t('more.all')}</option>${SO_STATES.map((x) => html`<option value=${x}>${t(`so.state.${x}`)}</option>`)}</select><//>
      <${FilterInput} name="so.date" label=${t('so.date')} value=${f.date} set=${set('date')} error=${qe.date} placeholder="2026-12-07" />
      <${Field} name="so.status" label=${t('so.promise')}><select ...${inputProps('so.status')} value=${f.status} onChange=${(e) => set('status')(e.target.value)}>
        <option value="">${t('more.all')}</option>${['at_risk', 'overdue'].map((x) => html`<option value=${x}>${t(`prs.${x}`)}</option>`)}</select><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="so-search">${t('common.search')}</button></div></div></form>
    ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${error} />`}
    <div class="card table-card"><table class="table" id="so-table"><thead><tr><th>${t('so.order')}</th><th>${t('col.center')}</th><th>${t('col.state')}</th>
      <th>${t('f.customer.name')}</th><th>${t('so.address')}</th><th>${t('f.device.category')}</th><th>${t('so.window')}</th><th>${t('so.technician')}</th><th>${t('so.respond_by')}</th></tr></thead>
      <tbody>${rowsOr(list, 9, (o) => html`<tr id=${`so-${o.id}`} class=${o.overdue ? 'row-overdue' : ''}><td><a class="mono" href=${`#/onsite/${encodeURIComponent(o.id)}`}>${o.id}</a></td>
        <td class="mono">${o.center}</td><td><${SoState} state=${o.state} /></td><td>${(o.customer && o.customer.name) || '—'}<div class="muted mono">${(o.customer && o.customer.phone) || ''}</div></td>
        <td>${o.address || '—'}</td><td>${t(`cat.${o.category}`)}</td><td>${window2(o)}</td><td>${o.technician_name || o.technician || '—'}</td>
        <td class=${o.overdue ? 'overdue' : ''}>${o.respond_by ? fmtTime(o.respond_by) : '—'}${o.overdue ? html` <${Tag} color="red">${t('prs.overdue')}<//>` : o.at_risk ? html` <${Tag} color="orange">${t('prs.at_risk')}<//>` : null}</td></tr>`, !res)}</tbody></table>
      ${res ? html`<div class="pager">
        <button class="btn" type="button" disabled=${!cursors.length} onClick=${() => { setCursors([]); load(undefined); }}>${t('common.first')}</button>
        <button class="btn" type="button" id="so-next" disabled=${!res.next} onClick=${() => { setCursors([...cursors, res.next]); load(res.next); }}>${t('common.next')}</button></div>` : null}</div>
    <${Workload} />
    <${Technicians} me=${me} />
  </div>`;
}

// "2026-12-09 09:00" (China time) → RFC 3339; '' stays empty; null when malformed.
function chinaTime(s) {
  s = String(s || '').trim();
  if (!s) return '';
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})$/.exec(s);
  return m && dateOk(m[1]) && Number(m[2]) < 24 && Number(m[3]) < 60 ? `${m[1]}T${m[2]}:${m[3]}:00+08:00` : null;
}

// The one next step the state allows, and cancel while the order is open.
function OnsiteStep({ o, onDone }) {
  const techs = useGet(`/v1/technicians${qs({ skill: o.category, center: o.center })}`, [o.id, o.category]);
  const path = (step) => `/v1/service-orders/${encodeURIComponent(o.id)}/${step}`;
  const need = (v, e, k, label) => { if (!String(v[k] || '').trim()) e[k] = t('v.required', { field: t(label) }); };
  let step = null;
  if (o.state === 'requested' || o.state === 'scheduled') {
    const list = (techs.data && techs.data.technicians) || [];
    step = html`<h3>${t(o.state === 'requested' ? 'so.do.schedule' : 'so.do.reschedule')}</h3>
      ${techs.error ? html`<${ErrorBox} error=${techs.error} />` : null}
      <${MiniForm} path=${path('schedule')} formId="so-schedule" submitLabel=${t(o.state === 'requested' ? 'so.do.schedule' : 'so.do.reschedule')} onDone=${onDone}
        initial=${{ technician: '', window_start: '', window_end: '', note: '' }}
        fields=${[{ name: 'technician', label: 'so.technician', options: [['', t(list.length ? 'so.pick' : 'so.no_tech')], ...list.filter((x) => x.active !== false).map((x) => [x.login, `${x.name} (${x.login}, ${x.center})`])] },
          { name: 'window_start', label: 'so.new_start', placeholder: '2026-12-09 09:00' }, { name: 'window_end', label: 'so.new_end', placeholder: '2026-12-09 11:00' },
          { name: 'note', label: 'so.note' }]}
        build=${(v, e) => { need(v, e, 'technician', 'so.technician');
          const ws = chinaTime(v.window_start); const we = chinaTime(v.window_end);
          if (ws === null) e.window_start = t('so.time_bad'); if (we === null) e.window_end = t('so.time_bad');
          if (!e.window_start && !e.window_end && !ws !== !we) e[ws ? 'window_end' : 'window_start'] = t('so.both');
          return { technician: v.technician, window_start: ws || undefined, window_end: we || undefined, note: v.note || undefined }; }} />`;
    if (o.state === 'scheduled') step = html`${step}<div class="form-actions"><${PostButton} path=${path('dispatch')} body=${{}} label=${t('so.do.dispatch')} id="so-dispatch" onDone=${onDone} /></div>`;
  } else if (o.state === 'dispatched') {
    step = html`<div class="form-actions"><${PostButton} path=${path('check-in')} body=${{}} label=${t('so.do.check_in')} id="so-check-in" onDone=${onDone} /></div>`;
  } else if (o.state === 'on_site') {
    step = html`<h3>${t('so.do.check_out')}</h3><${MiniForm} path=${path('check-out')} formId="so-checkout" submitLabel=${t('so.do.check_out')} onDone=${onDone}
      initial=${{ work_done: '', distance_km: '', parts: '' }}
      fields=${[{ name: 'work_done', label: 'so.work_done', area: true }, { name: 'distance_km', label: 'so.distance', inputmode: 'decimal', placeholder: '12.5' },
        { name: 'parts', label: 'so.parts', placeholder: 'PUMP-1*1, SEAL-2' }]}
      build=${(v, e) => { need(v, e, 'work_done', 'so.work_done');
        const km = String(v.distance_km || '').trim();
        if (!/^\d{1,4}(\.\d{1,2})?$/.test(km) || Number(km) > 2000) e.distance_km = t('so.km_bad');
        const parts = [];
        for (const x of String(v.parts || '').split(/[,，]/).map((y) => y.trim()).filter(Boolean)) {
          const m = /^([A-Za-z0-9._-]+)\s*(?:[*×xX]\s*(\d{1,3}))?$/.exec(x);
          if (!m) { e.parts = t('so.parts_bad'); break; }
          parts.push({ sku: m[1], qty: m[2] ? Number(m[2]) : 1 });
        }
        return { work_done: String(v.work_done || '').trim(), distance_km: Number(km), parts_used: parts.length ? parts : undefined }; }} />`;
  } else if (o.state === 'done') {
    step = html`<h3>${t('so.do.confirm')}</h3><${MiniForm} path=${path('confirm')} formId="so-confirm" submitLabel=${t('so.do.confirm')} onDone=${onDone}
      initial=${{ confirmed_by: '', signature: '', rating: '5', note: '' }}
      fields=${[{ name: 'confirmed_by', label: 'so.confirmed_by' }, { name: 'signature', label: 'so.signature' },
        { name: 'rating', label: 'so.rating', options: [['', '—'], ...[5, 4, 3, 2, 1].map((n) => [String(n), '★'.repeat(n)])] }, { name: 'note', label: 'so.note' }]}
      build=${(v, e) => { need(v, e, 'confirmed_by', 'so.confirmed_by');
        return { confirmed_by: String(v.confirmed_by || '').trim(), signature: v.signature || undefined, rating: v.rating ? Number(v.rating) : undefined, note: v.note || undefined }; }} />`;
  }
  const open = ['requested', 'scheduled', 'dispatched'].includes(o.state);
  return html`<${Card} title=${t('so.next')}>
    ${step || html`<p class="muted" id="so-no-step">${t('so.no_step')}</p>`}
    ${open ? html`<details class="add-form"><summary id="so-cancel-open">${t('so.do.cancel')}</summary>
      <${MiniForm} path=${path('cancel')} formId="so-cancel" danger submitLabel=${t('so.do.cancel')} onDone=${onDone} initial=${{ reason: '' }}
        fields=${[{ name: 'reason', label: 'so.reason' }]} build=${(v, e) => { need(v, e, 'reason', 'so.reason'); return { reason: String(v.reason || '').trim() }; }} /></details>` : null}
  <//>`;
}

function SoTimeline({ list }) {
  return html`<table class="table" id="so-timeline"><thead><tr><th>${t('so.at')}</th><th>${t('col.state')}</th><th>${t('so.event')}</th><th>${t('so.actor')}</th><th>${t('so.note')}</th></tr></thead>
    <tbody>${rowsOr(list || [], 5, (h) => html`<tr><td>${fmtTime(h.at)}</td><td>${h.from_state ? html`${t(`so.state.${h.from_state}`)} → ` : ''}${t(`so.state.${h.to_state}`)}</td>
      <td>${h.event || '—'}</td><td>${h.actor || '—'}</td><td>${h.note || '—'}</td></tr>`)}</tbody></table>`;
}

function soItems(o) {
  return [[t('f.customer.name'), o.customer && o.customer.name], [t('f.customer.phone'), html`<span class="mono">${(o.customer && o.customer.phone) || '—'}</span>`],
    [t('so.address'), o.address], [t('f.device.category'), t(`cat.${o.category}`)], [t('so.device'), [o.brand, o.model, o.serial].filter(Boolean).join(' ') || '—'],
    [t('so.fault'), o.fault], [t('so.window'), window2(o)], [t('so.technician'), o.technician ? `${o.technician_name || ''} (${o.technician})` : '—'],
    [t('so.respond_by'), o.respond_by ? fmtTime(o.respond_by) : '—'], [t('so.checked_in'), o.checked_in_at ? fmtTime(o.checked_in_at) : '—'],
    [t('so.checked_out'), o.checked_out_at ? fmtTime(o.checked_out_at) : '—'], [t('so.work_done'), o.work_done || '—'],
    [t('so.distance'), o.checked_out_at ? `${o.distance_km || 0} km` : '—'],
    [t('so.parts'), (o.parts_used || []).map((p) => `${p.sku} × ${p.qty || 1}`).join(', ') || '—'],
    [t('so.confirmed_by'), o.confirmed_by ? `${o.confirmed_by}${o.rating ? ` ${'★'.repeat(o.rating)}` : ''}` : '—'],
    o.ticket_id ? [t('col.id'), html`<a class="mono" href=${`#/tickets/${encodeURIComponent(o.ticket_id)}`}>${o.ticket_id}</a>`] : null,
    o.cancel_reason ? [t('so.reason'), o.cancel_reason] : null];
}

function OnsiteOrder({ me, id }) {
  const g = useGet(`/v1/service-orders/${encodeURIComponent(id)}`, [id]);
  if (g.error) return html`<${NotFound} error=${g.error} />`;
  if (!g.data) return html`<${Loading} />`;
  const o = g.data;
  return html`<div class="page"><div class="page-head"><h1>${t('so.order')} <span class="mono" id="so-id">${o.id}</span> <span id="so-state"><${SoState} state=${o.state} /></span></h1>
      <a class="btn" id="so-print" href=${`#/print/onsite/${encodeURIComponent(o.id)}`}>${t('so.print')}</a></div>
    ${o.overdue ? html`<div class="alert alert-error" role="status">${t('so.overdue', { at: fmtTime(o.respond_by) })}</div>` : null}
    <div class="card" id="so-record"><${Desc} items=${soItems(o)} /></div>
    <${OnsiteStep} o=${o} me=${me} onDone=${() => g.reload()} />
    <${Card} title=${t('so.timeline')}><div class="table-card"><${SoTimeline} list=${o.timeline} /></div><//>
  </div>`;
}

// 外出服务记录表: the field-service record on A4, like the claim form.
function OnsitePrint({ me, id }) {
  const { data: o, error } = useGet(`/v1/service-orders/${encodeURIComponent(id)}`, [id]);
  useEffect(() => { document.body.dataset.paper = 'a4'; return () => { delete document.body.dataset.paper; }; }, []);
  if (error) return html`<${NotFound} error=${error} />`;
  if (!o) return html`<${Loading} />`;
  return html`<div class="print-page">
    <div class="print-toolbar no-print"><a class="btn" href=${`#/onsite/${encodeURIComponent(o.id)}`}>${t('common.back')}</a>
      <button class="btn btn-primary" type="button" id="do-print" onClick=${() => window.print()}>${t('common.print')}</button></div>
    <article class="doc doc-a4" id="doc">
      <header class="doc-head"><div><div class="doc-org">${t('app.title')} · ${o.center}</div><h1>${t('so.form_title')}</h1>
        <div class="doc-no">${t('so.order')}: <strong class="mono" id="doc-order">${o.id}</strong></div>
        <div>${t('col.state')}: ${t(`so.state.${o.state}`)}</div></div>
        <${Qr} text=${o.id} size=${112} /></header>
      <${Desc} items=${soItems(o)} />
      <h2>${t('so.timeline')}</h2><${SoTimeline} list=${o.timeline} />
      <footer class="doc-sign"><div>${t('so.sign_tech')}: ____________</div><div>${t('so.sign_customer')}: ${o.confirmed_by || '____________'}</div>
        <div>${t('print.staff')}: ${me.display_name || me.login} · ${fmtDate(today())}</div></footer>
    </article></div>`;
}

// ---- the station scorecard (服务站考核) --------------------------------------------------------

const SC_METRICS = ['turnaround_hours', 'first_time_fix_pct', 'repeat_repair_pct', 'promise_kept_pct', 'satisfaction', 'nps', 'complaints_per_100', 'cost_per_repair_cents', 'parts_fill_pct'];
const SC_WHY = { 'no repair completed in the period': 'sc.why.repairs', 'no promise ended by a repair in the period': 'sc.why.promises',
  'no survey answered in the period': 'sc.why.surveys', 'no ticket opened in the period': 'sc.why.tickets', 'no completed repair charged yet': 'sc.why.charged',
  'no completed repair needed parts': 'sc.why.parts' };
const scorecardMemory = { from: '', to: '' };
function metricCell(m) {
  if (!m) return html`<td class="num">—</td>`;
  if (m.value === undefined || m.value === null) return html`<td class="num muted sc-null" title=${m.reason || ''}>— <div class="sc-why">${SC_WHY[m.reason] ? t(SC_WHY[m.reason]) : m.reason || ''}</div></td>`;
  const v = m.key === 'cost_per_repair_cents' ? fmtMoney(Math.round(m.value)) : `${Number(m.value).toFixed(1)}${/pct$/.test(m.key) ? '%' : ''}`;
  return html`<td class="num">${v}<div class="muted">${t('sc.score_of', { n: Number(m.score ?? 0).toFixed(1) })}</div></td>`;
}
// The weight set's nine keys (AddScorecardWeights), in the order of the metrics above.
const SC_WEIGHTS = [['turnaround', 'turnaround_hours'], ['first_time_fix', 'first_time_fix_pct'], ['repeat_repairs', 'repeat_repair_pct'],
  ['promise_kept', 'promise_kept_pct'], ['satisfaction', 'satisfaction'], ['nps', 'nps'], ['complaints', 'complaints_per_100'],
  ['cost_per_repair', 'cost_per_repair_cents'], ['parts_fill', 'parts_fill_pct']];
const bandsText = (bands) => (bands || []).map((b) => `${b.min_score || 0}:${b.pct || 0}`).join(', ');
// The reward rule of docs/scorecard.md: round(base × repaired × pct / 100), the highest band the
// score reaches; null when the centre has no score. The amount booked is the API's (POST …/rewards).
function rewardOf(ws, row) {
  if (!ws || row.score === undefined || row.score === null) return null;
  let pct = 0;
  for (const b of ws.reward_bands || []) if (Number(row.score) >= (b.min_score || 0)) pct = b.pct || 0;
  return { pct, cents: Math.round(((ws.reward_base_cents || 0) * (row.repaired || 0) * pct) / 100) };
}
function parseBands(s) {
  const out = [];
  for (const part of String(s || '').split(/[,，;]/).map((x) => x.trim()).filter(Boolean)) {
    const m = /^(\d{1,3})\s*[:：]\s*(\d{1,4})$/.exec(part);
    if (!m || Number(m[1]) > 100 || Number(m[2]) > 1000) return null;
    if (out.length && Number(m[1]) <= out[out.length - 1].min_score) return null;
    out.push({ min_score: Number(m[1]), pct: Number(m[2]) });
  }
  return out.length >= 1 && out.length <= 10 ? out : null;
}
// A new version of the weights and the reward rule (admin), filled in from the set in force.
function WeightsForm({ current, onDone }) {
  const init = { effective_from: today(), reward_base_cents: current ? String((current.reward_base_cents || 0) / 100) : '20', reward_bands: current ? bandsText(current.reward_bands) : '0:0, 60:50, 75:100, 90:120', note: '' };
  for (const [k] of SC_WEIGHTS) init[k] = current ? String(current[k] || 0) : '';
  const sum = (v) => SC_WEIGHTS.reduce((a, [k]) => a + (/^\d{1,4}$/.test(String(v[k]).trim()) ? Number(v[k]) : 0), 0);
  return html`<${MiniForm} path="/v1/scorecard/weights" formId="sw" submitLabel=${t('sw.add')} initial=${init} onDone=${onDone}
    fields=${[{ name: 'effective_from', label: 'sw.effective_from', placeholder: today() },
      ...SC_WEIGHTS.map(([k, m]) => ({ name: k, label: `sc.m.${m}`, inputmode: 'numeric' })),
      { name: 'weights', label: 'sw.sum', placeholder: '1000', type: 'hidden' },
      { name: 'reward_base_cents', label: 'sw.base', inputmode: 'decimal' }, { name: 'reward_bands', label: 'sw.bands', placeholder: '0:0, 60:50, 75:100, 90:120' },
      { name: 'note', label: 'so.note' }]}
    build=${(v, e) => {
      const b = { effective_from: String(v.effective_from || '').trim(), note: String(v.note || '').trim() || undefined };
      if (!dateOk(b.effective_from)) e.effective_from = t('v.date');
      for (const [k] of SC_WEIGHTS) {
        const x = String(v[k] ?? '').trim();
        if (!/^\d{1,4}$/.test(x) || Number(x) > 1000) e[k] = t('sw.weight_bad'); else b[k] = Number(x);
      }
      if (!SC_WEIGHTS.some(([k]) => e[k]) && sum(v) !== 1000) e.weights = t('sw.sum_bad', { n: sum(v) });
      const cents = moneyToCents(v.reward_base_cents);
      if (cents === null || cents === undefined || String(v.reward_base_cents).trim() === '') e.reward_base_cents = t('v.money'); else b.reward_base_cents = cents;
      const bands = parseBands(v.reward_bands);
      if (!bands) e.reward_bands = t('sw.bands_bad'); else b.reward_bands = bands;
      return b;
    }} />`;
}
function Weights({ me, tick, onChange }) {
  const g = useGet('/v1/scorecard/weights', [tick]);
  const [open, setOpen] = useState(false);
  const [msg, setMsg] = useState('');
  const sets = ((g.data && g.data.weight_sets) || []).slice().sort((a, b) => (b.version || 0) - (a.version || 0));
  const cur = g.data && g.data.current_version;
  const current = sets.find((w) => w.version === cur) || sets[0];
  return html`<${Card} title=${t('sw.title')}>
    ${g.error ? html`<${ErrorBox} error=${g.error} />` : null}
    ${msg ? html`<div class="alert alert-success" role="status" id="sw-msg">${msg}</div>` : null}
    <div class="table-card"><table class="table" id="sw-table"><thead><tr><th>${t('sw.version')}</th><th>${t('sw.effective_from')}</th><th class="num">${t('sw.base')}</th><th>${t('sw.bands')}</th>
      ${SC_WEIGHTS.map(([, m]) => html`<th class="num">${t(`sc.m.${m}`)}</th>`)}<th>${t('so.actor')}</th></tr></thead>
      <tbody>${rowsOr(sets, SC_WEIGHTS.length + 5, (w) => html`<tr id=${`sw-${w.version}`} class=${w.version === cur ? 'row-current' : ''}>
        <td class="num"><strong>${w.version}</strong>${w.version === cur ? html` <${Tag} color="green">${t('sw.in_force')}<//>` : null}</td><td>${fmtDate(w.effective_from)}</td>
        <td class="num">${fmtMoney(w.reward_base_cents || 0)}</td>
        <td class="bands">${(w.reward_bands || []).map((b) => html`<span class="band">≥${b.min_score || 0} → ${b.pct || 0}%</span> `)}</td>
        ${SC_WEIGHTS.map(([k]) => html`<td class="num">${((w[k] || 0) / 10).toFixed(1)}%</td>`)}
        <td>${w.created_by || '—'}${w.note ? html`<div class="muted">${w.note}</div>` : null}</td></tr>`, g.loading && !g.data)}</tbody></table></div>
    <p class="hint">${t('sw.hint')}</p>
    ${can(me, ['admin']) && g.data ? html`<details class="add-form" open=${open} id="sw-add" onToggle=${(ev) => setOpen(ev.target.open)}><summary id="sw-add-open">${t('sw.add')}</summary>
      ${open ? html`<${WeightsForm} current=${current} onDone=${(w) => { setMsg(t('sw.added', { v: w.version, from: fmtDate(w.effective_from) })); setOpen(false); onChange(); }} />` : null}</details>` : null}
  <//>`;
}
// The period's rewards posted to settlement (admin, a closed period): once per centre.
function Rewards({ rep }) {
  const [res, setRes] = useState(null);
  useEffect(() => { setRes(null); }, [rep.from, rep.to]);
  const list = (res && res.rewards) || [];
  return html`<${Card} title=${t('rw.title')}>
    <p class="hint">${t('rw.hint', { from: fmtDate(rep.from), to: fmtDate(rep.to) })}</p>
    <div class="form-actions"><${PostButton} path="/v1/reports/scorecard/rewards" body=${{ from: rep.from, to: rep.to }} label=${t('rw.post')} id="rw-post" onDone=${setRes} /></div>
    ${res ? html`<div class="table-card"><table class="table" id="rw-table"><thead><tr><th>${t('rw.id')}</th><th>${t('col.center')}</th><th class="num">${t('sc.score')}</th>
      <th class="num">${t('sc.repaired')}</th><th class="num">${t('rw.band')}</th><th class="num">${t('rw.amount')}</th><th>${t('col.state')}</th></tr></thead>
      <tbody>${rowsOr(list, 7, (w) => html`<tr id=${`rw-${w.center}`}><td class="mono">${w.id || '—'}</td><td class="mono">${w.center}</td>
        <td class="num">${w.score === undefined ? '—' : Number(w.score).toFixed(1)}</td><td class="num">${w.repaired || 0}</td><td class="num">${w.band_pct || 0}%</td>
        <td class="num"><strong>${fmtMoney(w.amount_cents || 0)}</strong></td>
        <td>${w.already_posted ? html`<${Tag}>${t('rw.already')}<//>` : html`<${Tag} color="green">${t('rw.posted')}<//>`}</td></tr>`)}</tbody></table></div>` : null}
  <//>`;
}
function Scorecard({ me }) {
  const [f, setF] = useState({ from: scorecardMemory.from || sinceDays(29), to: scorecardMemory.to || today() });
  const [rep, setRep] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const readsWeights = can(me, FIN);
  const [weights, setWeights] = useState({ data: null });
  useEffect(() => { if (readsWeights) api('GET', '/v1/scorecard/weights').then((data) => setWeights({ data }), () => setWeights({ data: null })); }, [tick]);
  async function load(ev) {
    if (ev) ev.preventDefault();
    Object.assign(scorecardMemory, f);
    setError(null);
    try { setRep(await api('GET', `/v1/reports/scorecard${qs(f)}`)); } catch (e) { setError(e); setRep(null); }
  }
  useEffect(() => { load(); }, []);
  const qe = queryFieldError(error, ['from', 'to']);
  const set = (k) => (x) => setF({ ...f, [k]: x });
  const regions = {};
  for (const r of (rep && rep.rows) || []) (regions[r.region || '—'] = regions[r.region || '—'] || []).push(r);
  for (const k of Object.keys(regions)) regions[k].sort((a, b) => (a.rank || 1e9) - (b.rank || 1e9) || String(a.center).localeCompare(String(b.center)));
  // The reward column: the reward rule of the weight set this scorecard used (admin and finance read it).
  const ws = readsWeights && rep && weights.data ? (weights.data.weight_sets || []).find((w) => w.version === rep.weights_version) : null;
  const closed = rep && rep.to < today();
  return html`<div class="page"><div class="page-head"><h1>${t('sc.title')}</h1></div>
    <form class="card filter-bar" onSubmit=${load} id="sc-filters"><div class="filters">
      <${FilterInput} name="sc.from" label=${t('more.from')} value=${f.from} set=${set('from')} error=${qe.from} />
      <${FilterInput} name="sc.to" label=${t('more.to')} value=${f.to} set=${set('to')} error=${qe.to} />
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="sc-search">${t('common.search')}</button></div></div>
      ${rep ? html`<p class="hint" id="sc-period">${t('sc.period', { from: fmtDate(rep.from), to: fmtDate(rep.to), v: rep.weights_version || '—' })}</p>` : null}</form>
    ${Object.keys(qe).length ? null : html`<${ErrorBox} error=${error} />`}
    ${rep && !Object.keys(regions).length ? html`<p class="muted">${t('common.none')}</p>` : null}
    ${Object.keys(regions).sort().map((reg) => html`<${Card} title=${`${t('users.region')} ${reg}`}><div class="table-card"><table class="table sc-table" id=${`sc-${reg}`}>
      <thead><tr><th class="num">${t('sc.rank')}</th><th>${t('col.center')}</th><th class="num">${t('sc.score')}</th><th class="num">${t('sc.tickets')}</th><th class="num">${t('sc.repaired')}</th>
        ${ws ? html`<th class="num sc-reward">${t('sc.reward')}</th>` : null}${SC_METRICS.map((k) => html`<th class="num">${t(`sc.m.${k}`)}</th>`)}</tr></thead>
      <tbody>${regions[reg].map((r) => { const rw = ws ? rewardOf(ws, r) : null;
        return html`<tr id=${`sc-row-${r.center}`}><td class="num">${r.rank ? html`<strong>${r.rank}</strong><span class="muted">/${r.region_centers || 0}</span>` : '—'}</td>
        <td class="mono">${r.center}</td><td class="num"><strong>${r.score === undefined || r.score === null ? '—' : Number(r.score).toFixed(1)}</strong></td>
        <td class="num">${r.tickets || 0}</td><td class="num">${r.repaired || 0}</td>
        ${ws ? html`<td class="num sc-reward">${rw ? html`<strong>${fmtMoney(rw.cents)}</strong><div class="muted">${t('sc.band', { pct: rw.pct })}</div>` : '—'}</td>` : null}
        ${SC_METRICS.map((k) => metricCell((r.metrics || []).find((m) => m.key === k)))}</tr>`; })}</tbody></table></div><//>`)}
    ${rep ? html`<p class="hint">${t(ws ? 'sc.hint_reward' : 'sc.hint')}</p>` : !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
    ${rep && closed && can(me, ['admin']) ? html`<${Rewards} rep=${rep} />` : null}
    ${readsWeights ? html`<${Weights} me=${me} tick=${tick} onChange=${() => { setTick(tick + 1); load(); }} />` : null}
  </div>`;
}

// ---- proactive calls in the call-back desk's list (quality tracking, maintenance reminders) ----

const PC_COLOR = { quality_tracking: 'blue', maintenance: 'purple' };
export function ProactiveCalls({ me, rows, onDone }) {
  const [open, setOpen] = useState('');
  return html`<${Card} title=${t('pc.title')} cls="table-card"><table class="table" id="proactive-table"><thead><tr><th>${t('pc.kind')}</th><th>${t('col.id')}</th>
      <th>${t('col.customer')}</th><th>${t('col.device')}</th><th>${t('pc.due')}</th><th></th></tr></thead>
    <tbody>${rowsOr(rows || [], 6, (pc) => html`<tr id=${`pc-${pc.id}`}><td><${Tag} color=${PC_COLOR[pc.kind] || 'default'}>${t(`pc.kind.${pc.kind}`)}<//><div class="muted mono">${pc.id}</div></td>
      <td><a class="mono" href=${`#/tickets/${encodeURIComponent(pc.ticket_id)}`}>${pc.ticket_id}</a>${me.role !== 'center' ? html`<div class="muted">${pc.center}</div>` : null}</td>
      <td>${pc.customer_name || '—'}<div class="muted">${pc.customer_phone || ''}</div></td>
      <td>${pc.brand || ''} ${pc.category ? t(`cat.${pc.category}`) : ''}<div class="muted">${t('pc.closed', { at: pc.closed_at ? fmtDate(String(pc.closed_at).slice(0, 10)) : '—' })}</div></td>
      <td>${fmtDate(pc.due_date)}${pc.notified_at ? html`<div class="muted">${t('pc.notified', { at: fmtTime(pc.notified_at) })}</div>` : null}</td>
      <td><button type="button" class="btn btn-sm btn-primary" id=${`pc-call-${pc.id}`} onClick=${() => setOpen(open === pc.id ? '' : pc.id)}>${t('cb.call')}</button>
        ${open === pc.id ? html`<div class="call-panel">
          <blockquote class="script" id=${`pc-script-${pc.id}`}>${t(`pc.script.${pc.kind}`, { name: pc.customer_name || '', center: pc.center || '', brand: pc.brand || '', ticket: pc.ticket_id })}</blockquote>
          <${MiniForm} path=${`/v1/surveys/proactive/${encodeURIComponent(pc.id)}/done`} formId=${`pc-${pc.id}`} submitLabel=${t('pc.done')}
            initial=${{ note: '' }} fields=${[{ name: 'note', label: 'pc.note' }]} build=${(v) => ({ note: String(v.note || '').trim() || undefined })}
            onDone=${(r) => { setOpen(''); onDone(r); }} /></div>` : null}</td></tr>`, rows === null)}</tbody></table><//>`;
}
