// app.js — the console: sign-in, the role's menu, the front desk (queue, search, intake,
// ticket, decision, diagnosis, consent, hand-back), printable documents, staff accounts.
// Plain ES modules; Preact + htm (vendored at `make` time) render; state lives in memory —
// nothing personal ever goes into the page's URL (the hash names only screens and ticket ids).
import { html, render, useState, useEffect, useRef } from './vendor/preact-htm.mjs';
import { encode as qrEncode } from './vendor/uqr.mjs';
import { api, qs, setCsrf, newKey, ApiError } from './api.js';
import { t, getLang, setLang, ruleText, fmtDate, fmtTime, fmtMoney, today } from './i18n.js';
import { MORE_MENU, moreScreen, ProactiveCalls } from './more.js';
import { FIN_MENU, finScreen, PriceListMore, CostCharts } from './finance.js';

// ---- who sees what ---------------------------------------------------------------------------

const DESK = ['admin', 'region', 'center'];          // may open and move tickets
const READERS = ['admin', 'region', 'center', 'reviewer', 'finance'];
const MENU = [
  { key: 'queue', label: 'nav.queue', roles: READERS },
  { key: 'intake', label: 'nav.intake', roles: ['center'] }, // a ticket belongs to the caller's centre
  { key: 'workshop', label: 'nav.workshop', roles: DESK },
  { key: 'callbacks', label: 'nav.callbacks', roles: DESK },
  { key: 'complaints', label: 'nav.complaints', roles: ['admin', 'region', 'center', 'reviewer'] },
  { key: 'stock', label: 'nav.stock', roles: ['admin', 'region', 'center', 'warehouse'] },
  { key: 'transfers', label: 'nav.transfers', roles: ['admin', 'region', 'center', 'warehouse'] },
  { key: 'returns', label: 'nav.returns', roles: ['admin', 'region', 'center', 'warehouse', 'finance', 'reviewer'] },
  { key: 'loaners', label: 'nav.loaners', roles: ['admin', 'region', 'center', 'warehouse'] },
  { key: 'finance', label: 'nav.finance', roles: ['admin', 'finance'] },
  { key: 'dashboard', label: 'nav.dashboard', roles: ['admin', 'region'] },
  { key: 'users', label: 'nav.users', roles: ['admin', 'region'] },
  { key: 'network', label: 'nav.network', roles: ['admin', 'region'] },
  { key: 'prices', label: 'nav.prices', roles: ['center', 'finance', 'reviewer'] }, // admin and region: under Network
  ...MORE_MENU, // customers, hotline, promises, quality, notifications, webhooks (more.js)
  ...FIN_MENU, // accounting periods (finance.js)
];
const can = (me, roles) => !!me && roles.includes(me.role);
const menuFor = (me) => MENU.filter((m) => can(me, m.roles));

// ---- the hash router: #/queue, #/intake, #/tickets/ID, #/print/intake/ID ----------------------

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', arg: parts[1] || '', arg2: parts[2] || '' };
}
const go = (path) => { location.hash = `#/${path}`; };

// ---- small pieces ----------------------------------------------------------------------------

const STATE_COLOR = {
  received: 'blue', adjudicated: 'cyan', awaiting_review: 'orange', estimate_pending: 'gold',
  in_repair: 'geekblue', awaiting_parts: 'volcano', ready: 'green', closed: 'default',
  cancelled: 'default', declined: 'red', refunded: 'purple', exchanged: 'purple',
};
const Tag = ({ color, children }) => html`<span class=${`tag tag-${color || 'default'}`}>${children}</span>`;
const StateTag = ({ state }) => html`<${Tag} color=${STATE_COLOR[state]}>${t(`state.${state}`)}<//>`;

function errText(e) {
  if (!(e instanceof ApiError)) return String(e && e.message || e);
  if (e.status === 0) return t('err.network');
  if (e.status === 403) return `${t('err.forbidden')} (${e.message})`;
  return e.message;
}

// An error next to what caused it: a form's or an action's own box.
const ErrorBox = ({ error }) => error ? html`<div class="alert alert-error" role="alert">${errText(error)}</div>` : null;

// GOV.UK pattern: the summary on top, each message again at its field.
function ErrorSummary({ errors }) {
  const ref = useRef();
  useEffect(() => { if (ref.current) ref.current.focus(); }, [errors]);
  const list = Object.entries(errors || {});
  if (!list.length) return null;
  return html`<div class="error-summary" role="alert" tabindex="-1" ref=${ref}>
    <h2>${t('err.summary')}</h2>
    <ul>${list.map(([f, msg]) => html`<li><button type="button" class="link"
        onClick=${() => { const el = document.getElementById(fid(f)); if (el) el.focus(); }}>${msg}</button></li>`)}</ul>
  </div>`;
}
const fid = (field) => `f-${field.replace(/[^A-Za-z0-9_-]/g, '-')}`;

function Field({ name, label, error, hint, children, wide }) {
  return html`<div class=${`field${error ? ' has-error' : ''}${wide ? ' wide' : ''}`}>
    <label for=${fid(name)}>${label}</label>
    ${hint ? html`<div class="hint">${hint}</div>` : null}
    ${error ? html`<p class="field-error" id=${`${fid(name)}-err`}>${error}</p>` : null}
    ${children}
  </div>`;
}
const inputProps = (name, error) => ({
  id: fid(name), name, 'aria-invalid': error ? 'true' : undefined,
  'aria-describedby': error ? `${fid(name)}-err` : undefined,
});

function Card({ title, extra, children, cls }) {
  return html`<section class=${`card ${cls || ''}`}>
    ${title ? html`<header class="card-head"><h2>${title}</h2>${extra ? html`<div class="card-extra">${extra}</div>` : null}</header>` : null}
    <div class="card-body">${children}</div>
  </section>`;
}

function Desc({ items }) {
  return html`<dl class="desc">${items.filter(Boolean).map(([k, v]) => html`<div class="desc-item"><dt>${k}</dt><dd>${v ?? '—'}</dd></div>`)}</dl>`;
}

// Server field errors → {field: message}; anything else stays a general error.
function fieldErrors(e) {
  const out = {};
  if (e instanceof ApiError)
    for (const f of e.fields || []) if (f.field) {
      const label = t(`f.${f.field}`);
      out[f.field] = label !== `f.${f.field}` ? `${label}: ${f.problem || e.message}` : `${f.field} ${f.problem || e.message}`;
    }
  return out;
}

// ---- validation shared by the forms ----------------------------------------------------------

export function luhnOk(s) {
  if (!/^\d{15}$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let d = Number(s[14 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}
const dateOk = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !isNaN(new Date(`${s}T00:00:00Z`)) &&
  new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;
// The parts a completed repair used: the ticket's reserved lines (each is then issued from stock
// and valued in the ledger); a repair cannot be completed while a line still waits.
const usedLines = (w) => {
  const lines = ((w && w.requested) || []).filter((r) => r.status === 'reserved').map((r) => ({ sku: r.sku, qty: r.qty }));
  return lines.length ? lines : undefined;
};
const moneyToCents = (s) => (/^\d+(\.\d{1,2})?$/.test(String(s).trim()) ? Math.round(parseFloat(s) * 100) : null);

// ---- sign in ---------------------------------------------------------------------------------

function Login({ onIn }) {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(ev) {
    ev.preventDefault();
    setBusy(true); setError(null);
    try {
      const s = await api('POST', '/v1/auth/login', { login, password });
      setCsrf(s.csrf_token);
      onIn(await api('GET', '/v1/auth/me'));
    } catch (e) {
      setError(e.status === 401 || e.status === 403 ? t('login.failed') : errText(e));
    } finally { setBusy(false); }
  }
  return html`<div class="login-page">
    <div class="login-top"><${LangSwitch} /></div>
    <form class="login-card" onSubmit=${submit} novalidate>
      <div class="brand"><img src="favicon.svg" alt="" width="32" height="32" /><div><h1>${t('app.title')}</h1><p>${t('app.sub')}</p></div></div>
      ${error ? html`<div class="alert alert-error" role="alert" id="login-error">${error}</div>` : null}
      <${Field} name="login" label=${t('login.login')}><input ...${inputProps('login')} autocomplete="username" value=${login} onInput=${(e) => setLogin(e.target.value)} required /><//>
      <${Field} name="password" label=${t('login.password')}><input ...${inputProps('password')} type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} required /><//>
      <button class="btn btn-primary btn-block" type="submit" disabled=${busy}>${t('login.submit')}</button>
    </form>
  </div>`;
}

function LangSwitch() {
  const [, force] = useState(0);
  return html`<button type="button" class="btn btn-text lang-switch" id="lang-switch" lang=${getLang() === 'en' ? 'zh-CN' : 'en'}
    onClick=${() => { setLang(getLang() === 'en' ? 'zh-CN' : 'en'); force((n) => n + 1); window.dispatchEvent(new Event('as-lang')); }}>${t('lang.switch')}</button>`;
}

// ---- the frame -------------------------------------------------------------------------------

function Shell({ me, route, onOut, children }) {
  async function out() {
    try { await api('POST', '/v1/auth/logout', {}); } catch { /* the cookie goes anyway */ }
    setCsrf(null);
    onOut();
  }
  return html`<div class="shell">
    <header class="topbar">
      <a class="brand-sm" href="#/"><img src="favicon.svg" alt="" width="24" height="24" /><span>${t('app.title')}</span></a>
      <div class="topbar-right">
        <span class="who" id="who">${me.display_name || me.login}<span class="who-role">${t(`role.${me.role}`)}${me.site ? ` · ${me.site}` : ''}</span></span>
        <${LangSwitch} />
        <button type="button" class="btn btn-text" id="sign-out" onClick=${out}>${t('logout')}</button>
      </div>
    </header>
    <nav class="sidebar" aria-label="menu">
      ${menuFor(me).map((m) => html`<a href=${`#/${m.key}`} class=${`nav-item${route.name === m.key ? ' active' : ''}`} id=${`nav-${m.key}`}>${t(m.label)}</a>`)}
    </nav>
    <main class="content" id="main">${children}</main>
  </div>`;
}

// ---- the queue, with the returning-customer search -------------------------------------------

const STATES = ['received', 'adjudicated', 'awaiting_review', 'estimate_pending', 'in_repair', 'awaiting_parts',
  'ready', 'closed', 'refunded', 'exchanged', 'declined', 'cancelled'];

function waitsFor(tk) {
  const d = tk.decision || {};
  if (tk.state === 'adjudicated' && d.status === 'granted' && (d.remedy === 'refund' || d.remedy === 'exchange'))
    return t(`waits.${d.remedy}`);
  return ['closed', 'refunded', 'exchanged', 'declined', 'cancelled'].includes(tk.state) ? '—' : t(`waits.${tk.state}`);
}
function decisionShort(d) {
  if (!d || !d.status) return '—';
  const rules = (d.rules || []).join(' ');
  return html`<${Tag} color=${d.status === 'granted' ? 'green' : d.status === 'not_covered' ? 'red' : 'orange'}>${t(`dec.${d.status}`)}<//> <span class="muted">${rules}</span>`;
}

// Queue filters and search live in memory across screens (never in the URL).
const queueMemory = { filters: { state: '', from: today(), to: '' }, search: { phone: '', imei: '', serial: '' }, cursors: [] };

function Queue({ me }) {
  const [filters, setFilters] = useState(queueMemory.filters);
  const [search, setSearch] = useState(queueMemory.search);
  const [cursors, setCursors] = useState(queueMemory.cursors); // cursors[i] = `after` of page i+1
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const query = (after) => ({ ...filters, ...search, order: 'priority', after, limit: 20 }); // key and VIP customers first
  async function load(after) {
    setLoading(true); setError(null);
    try { setPage(await api('GET', `/v1/tickets${qs(query(after))}`)); } catch (e) { setError(e); setPage(null); }
    setLoading(false);
  }
  useEffect(() => { load(cursors[cursors.length - 1]); }, []);
  useEffect(() => { Object.assign(queueMemory, { filters, search, cursors }); }, [filters, search, cursors]);
  const apply = (ev) => { ev.preventDefault(); setCursors([]); load(undefined); };
  const reset = () => {
    const f = { state: '', from: today(), to: '' }, s = { phone: '', imei: '', serial: '' };
    setFilters(f); setSearch(s); setCursors([]);
    queueMemory.filters = f; queueMemory.search = s;
    setTimeout(() => load(undefined));
  };
  const next = () => { const c = [...cursors, page.next]; setCursors(c); load(page.next); };
  const first = () => { setCursors([]); load(undefined); };
  const upd = (set, obj, k) => (e) => set({ ...obj, [k]: e.target.value });
  const rows = (page && page.tickets) || [];
  return html`<div class="page">
    <div class="page-head"><h1>${t('queue.title')}</h1>
      ${can(me, ['center']) ? html`<a class="btn btn-primary" href="#/intake" id="new-ticket">+ ${t('nav.intake')}</a>` : null}</div>
    <form class="card filter-bar" onSubmit=${apply} id="queue-filters">
      <fieldset class="filters"><legend>${t('search.title')}</legend>
        <${Field} name="q.phone" label=${t('search.phone')}><input ...${inputProps('q.phone')} inputmode="tel" autocomplete="off" value=${search.phone} onInput=${upd(setSearch, search, 'phone')} /><//>
        <${Field} name="q.imei" label=${t('search.imei')}><input ...${inputProps('q.imei')} inputmode="numeric" autocomplete="off" value=${search.imei} onInput=${upd(setSearch, search, 'imei')} /><//>
        <${Field} name="q.serial" label=${t('search.serial')}><input ...${inputProps('q.serial')} autocomplete="off" value=${search.serial} onInput=${upd(setSearch, search, 'serial')} /><//>
      </fieldset>
      <fieldset class="filters"><legend class="vh">${t('queue.state')}</legend>
        <${Field} name="q.state" label=${t('queue.state')}><select ...${inputProps('q.state')} value=${filters.state} onChange=${upd(setFilters, filters, 'state')}>
          <option value="">${t('queue.all')}</option>${STATES.map((s) => html`<option value=${s}>${t(`state.${s}`)}</option>`)}</select><//>
        <${Field} name="q.from" label=${t('queue.from')}><input ...${inputProps('q.from')} placeholder="2026-12-07" inputmode="numeric" value=${filters.from} onInput=${upd(setFilters, filters, 'from')} /><//>
        <${Field} name="q.to" label=${t('queue.to')}><input ...${inputProps('q.to')} placeholder="2026-12-07" inputmode="numeric" value=${filters.to} onInput=${upd(setFilters, filters, 'to')} /><//>
        <div class="filter-actions"><button class="btn btn-primary" type="submit" id="queue-search">${t('common.search')}</button>
          <button class="btn" type="button" onClick=${reset}>${t('common.reset')}</button></div>
      </fieldset>
      <p class="hint">${t('search.hint')}</p>
    </form>
    <${ErrorBox} error=${error} />
    <div class="card table-card">
      <table class="table" id="queue-table">
        <thead><tr><th>${t('col.id')}</th><th>${t('col.opened')}</th><th>${t('col.customer')}</th><th>${t('col.device')}</th>
          <th>${t('col.state')}</th><th>${t('col.promised')}</th><th>${t('col.waits')}</th><th>${t('col.decision')}</th></tr></thead>
        <tbody>${rows.length ? rows.map((tk) => html`<tr>
            <td><a href=${`#/tickets/${tk.id}`} class="mono">${tk.id}</a>${me.role !== 'center' ? html`<div class="muted">${tk.center}</div>` : null}</td>
            <td>${fmtTime(tk.opened_at)}</td>
            <td>${tk.customer ? html`${tk.customer.name}<div class="muted">${tk.customer.phone}</div>` : '—'}</td>
            <td>${[tk.device && tk.device.brand, tk.device && tk.device.model].filter(Boolean).join(' ') || '—'}<div class="muted mono">${tk.device && (tk.device.imei || tk.device.serial) || ''}</div></td>
            <td><${StateTag} state=${tk.state} /></td>
            <td>${fmtDate((tk.work && tk.work.promised_date) || tk.promised_at)}</td>
            <td>${waitsFor(tk)}</td>
            <td>${decisionShort(tk.decision)}</td></tr>`)
          : html`<tr><td colspan="8" class="empty">${loading ? t('common.loading') : t('common.none')}</td></tr>`}</tbody>
      </table>
      <div class="pager">
        <button class="btn" type="button" disabled=${!cursors.length} onClick=${first}>${t('common.first')}</button>
        <button class="btn" type="button" id="next-page" disabled=${!(page && page.next)} onClick=${next}>${t('common.next')}</button>
      </div>
    </div>
  </div>`;
}

// ---- intake ----------------------------------------------------------------------------------

const CATEGORIES = ['phone_host', 'phone_battery', 'phone_charger', 'general'];
const ACCESSORIES = { zh: ['充电器', '数据线', '包装盒', '保护壳', 'SIM 卡托'], en: ['charger', 'cable', 'box', 'case', 'SIM tray'] };
const EMPTY_INTAKE = {
  'customer.name': '', 'customer.phone': '', 'device.category': 'phone_host', 'device.brand': '', 'device.model': '',
  'device.imei': '', 'device.imei_label': '', 'device.serial': '', 'purchase.invoice_date': '', 'purchase.price_cents': '',
  'purchase.invoice': true, 'purchase.warranty_card': true, 'fault.code': '', 'fault.description': '', 'fault.listed': true,
  request: 'repair', 'pre.appearance': '', 'pre.accessories': [], diagnosis_fee_consent: false,
};

function validateIntake(v) {
  const e = {};
  const need = (k) => { if (!String(v[k]).trim()) e[k] = t('v.required', { field: t(`f.${k}`) }); };
  ['customer.name', 'customer.phone', 'device.brand', 'device.model', 'purchase.invoice_date', 'fault.description'].forEach(need);
  if (v['customer.phone'] && !/^1\d{10}$/.test(v['customer.phone'].trim())) e['customer.phone'] = t('v.phone');
  for (const k of ['device.imei', 'device.imei_label'])
    if (v[k] && !luhnOk(v[k].trim())) e[k] = t('v.luhn');
  if (v['device.category'].startsWith('phone_host') && !v['device.imei']) e['device.imei'] = t('v.required', { field: 'IMEI' });
  if (v['purchase.invoice_date'] && (!dateOk(v['purchase.invoice_date']) || v['purchase.invoice_date'] > today())) e['purchase.invoice_date'] = t('v.date');
  if (v['purchase.price_cents'] && moneyToCents(v['purchase.price_cents']) === null) e['purchase.price_cents'] = t('v.money');
  return e;
}

function intakeBody(v) {
  const s = (k) => String(v[k]).trim() || undefined;
  const imeiMatch = v['device.imei'] && v['device.imei_label'] ? v['device.imei'].trim() === v['device.imei_label'].trim() : null;
  const lang = getLang() === 'en' ? 'en' : 'zh';
  // The pre-check has no field in the API: it is kept with the fault description.
  const pre = [v['pre.appearance'] && `${t('f.pre.appearance')}: ${v['pre.appearance']}`,
    v['pre.accessories'].length && `${t('f.pre.accessories')}: ${v['pre.accessories'].map((i) => ACCESSORIES[lang][i]).join(', ')}`,
    imeiMatch !== null && `${t('f.pre.imei_match')}: ${t(imeiMatch ? 'common.yes' : 'common.no')}`].filter(Boolean).join('; ');
  return {
    customer: { name: s('customer.name'), phone: s('customer.phone') },
    device: { category: v['device.category'], brand: s('device.brand'), model: s('device.model'), imei: s('device.imei'),
      imei_label: s('device.imei_label'), serial: s('device.serial') },
    purchase: { invoice_date: s('purchase.invoice_date'), invoice: !!v['purchase.invoice'], warranty_card: !!v['purchase.warranty_card'],
      price_cents: v['purchase.price_cents'] ? moneyToCents(v['purchase.price_cents']) : undefined },
    fault: { code: s('fault.code'), description: [s('fault.description'), pre && `[${t('intake.precheck')}] ${pre}`].filter(Boolean).join(' — '),
      listed: !!v['fault.listed'] },
    request: v.request,
    diagnosis_fee_consent: v.diagnosis_fee_consent ? true : undefined,
  };
}

function Intake() {
  const [v, setV] = useState({ ...EMPTY_INTAKE });
  const [errors, setErrors] = useState({});
  const [general, setGeneral] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const set = (k) => (e) => setV({ ...v, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const toggleAcc = (i) => setV({ ...v, 'pre.accessories': v['pre.accessories'].includes(i) ? v['pre.accessories'].filter((x) => x !== i) : [...v['pre.accessories'], i] });
  const lang = getLang() === 'en' ? 'en' : 'zh';
  async function submit(ev) {
    ev.preventDefault();
    setGeneral(null);
    const e = validateIntake(v);
    setErrors(e);
    if (Object.keys(e).length) return;
    setBusy(true);
    try {
      const tk = await api('POST', '/v1/tickets', intakeBody(v), key.current);
      key.current = newKey();
      flash.set(t('intake.created', { id: tk.id }));
      go(`tickets/${tk.id}`);
    } catch (err) {
      const fe = fieldErrors(err);
      setErrors(fe);
      if (!Object.keys(fe).length) setGeneral(err);
    } finally { setBusy(false); }
  }
  const F = (name, type = 'text', extra = {}) => html`<${Field} name=${name} label=${t(`f.${name}`)} error=${errors[name]}>
    <input ...${inputProps(name, errors[name])} type=${type} value=${v[name]} onInput=${set(name)} ...${extra} /><//>`;
  const C = (name) => html`<label class="check"><input type="checkbox" id=${fid(name)} checked=${v[name]} onChange=${set(name)} /> ${t(`f.${name}`)}</label>`;
  return html`<form class="page" onSubmit=${submit} novalidate id="intake-form">
    <div class="page-head"><h1>${t('intake.title')}</h1></div>
    <${ErrorSummary} errors=${errors} />
    <${ErrorBox} error=${general} />
    <div class="grid2">
      <${Card} title=${t('intake.customer')}>
        ${F('customer.name', 'text', { autocomplete: 'off' })}
        ${F('customer.phone', 'tel', { inputmode: 'tel', autocomplete: 'off' })}
      <//>
      <${Card} title=${t('intake.purchase')}>
        ${F('purchase.invoice_date', 'text', { placeholder: today(), inputmode: 'numeric', autocomplete: 'off' })}
        ${F('purchase.price_cents', 'text', { inputmode: 'decimal', placeholder: '1299.00' })}
        <div class="checks">${C('purchase.invoice')}${C('purchase.warranty_card')}</div>
      <//>
      <${Card} title=${t('intake.device')}>
        <${Field} name="device.category" label=${t('f.device.category')} error=${errors['device.category']}>
          <select ...${inputProps('device.category', errors['device.category'])} value=${v['device.category']} onChange=${set('device.category')}>
            ${CATEGORIES.map((c) => html`<option value=${c}>${t(`cat.${c}`)}</option>`)}</select><//>
        <div class="row2">${F('device.brand')}${F('device.model')}</div>
        ${F('device.imei', 'text', { inputmode: 'numeric', maxlength: 15, autocomplete: 'off' })}
        ${F('device.imei_label', 'text', { inputmode: 'numeric', maxlength: 15, autocomplete: 'off' })}
        ${F('device.serial', 'text', { autocomplete: 'off' })}
      <//>
      <${Card} title=${t('intake.fault')}>
        ${F('fault.code', 'text', { placeholder: 'NO_POWER' })}
        <${Field} name="fault.description" label=${t('f.fault.description')} error=${errors['fault.description']}>
          <textarea ...${inputProps('fault.description', errors['fault.description'])} rows="3" value=${v['fault.description']} onInput=${set('fault.description')}></textarea><//>
        <div class="checks">${C('fault.listed')}</div>
        <${Field} name="request" label=${t('f.request')} error=${errors.request}>
          <div class="radios" role="radiogroup" id=${fid('request')}>${['repair', 'exchange', 'refund'].map((r) => html`<label class="radio">
            <input type="radio" name="request" value=${r} checked=${v.request === r} onChange=${set('request')} id=${`req-${r}`} /> ${t(`req.${r}`)}</label>`)}</div><//>
      <//>
      <${Card} title=${t('intake.precheck')} cls="wide">
        <p class="hint">${t('pre.hint')}</p>
        ${F('pre.appearance', 'text', { placeholder: getLang() === 'en' ? 'light scratches on the back' : '背壳轻微划痕' })}
        <fieldset class="checks"><legend>${t('f.pre.accessories')}</legend>${ACCESSORIES[lang].map((a, i) => html`<label class="check">
          <input type="checkbox" checked=${v['pre.accessories'].includes(i)} onChange=${() => toggleAcc(i)} /> ${a}</label>`)}</fieldset>
        ${v['device.imei'] && v['device.imei_label'] ? html`<p class=${v['device.imei'] === v['device.imei_label'] ? 'ok-text' : 'warn-text'} id="imei-match">
          ${t('f.pre.imei_match')}: ${t(v['device.imei'] === v['device.imei_label'] ? 'common.yes' : 'common.no')}</p>` : null}
        <div class="checks">${C('diagnosis_fee_consent')}</div>
      <//>
    </div>
    <div class="form-actions"><button class="btn btn-primary btn-lg" type="submit" disabled=${busy} id="intake-submit">${t('intake.submit')}</button>
      <a class="btn" href="#/queue">${t('common.cancel')}</a></div>
  </form>`;
}

// A one-shot message carried to the next screen.
const flash = { msg: '', set(m) { this.msg = m; }, take() { const m = this.msg; this.msg = ''; return m; } };

// ---- one ticket ------------------------------------------------------------------------------

// Hand-back facts the ticket does not echo yet (payment method), kept for this tab's receipts.
const handbacks = {};

function decisionSentence(d) {
  const rules = d.rules || [];
  const named = rules.filter((r) => ruleText(r));
  return named.map((r) => (getLang() === 'en' ? `${ruleText(r)} under ${r}` : `${ruleText(r)}（依据 ${r}）`));
}

function DecisionCard({ tk }) {
  const d = tk.decision;
  if (!d || !d.status) return html`<${Card} title=${t('ticket.decision')}><p class="muted" id="decision-waiting">${t('ticket.waiting')}</p><//>`;
  const remedy = d.remedy === 'repair' && !d.free ? 'paid_repair' : (d.remedy || 'none');
  return html`<${Card} title=${t('ticket.decision')} cls="decision">
    <div class="decision-head" id="decision">
      <${Tag} color=${d.status === 'granted' ? 'green' : d.status === 'not_covered' ? 'red' : 'orange'}>${t(`dec.${d.status}`)}<//>
      <strong class="decision-remedy">${t(`remedy.${remedy}`)}</strong>
      ${d.free ? html`<${Tag} color="green">${t('ticket.free')}<//>` : html`<${Tag} color="gold">${t('ticket.paid')}<//>`}
    </div>
    <ul class="decision-words" id="decision-words">${decisionSentence(d).map((s) => html`<li>${s}</li>`)}</ul>
    ${d.reason ? html`<p class="muted">${d.reason}</p>` : null}
    ${d.review ? html`<div class="alert alert-warn">${t('ticket.review')}</div>` : null}
    <${Desc} items=${[
      [t('ticket.rules'), html`<span id="decision-rules">${(d.rules || []).map((r) => html`<${Tag} color="blue">${r}<//>`)}</span>`],
      d.entitled && d.entitled.length ? [t('ticket.choices'), html`<span id="decision-choices">${d.entitled.map((e) => t(`remedy.${e === 'repair' && !d.free ? 'paid_repair' : e}`)).join(getLang() === 'en' ? ', ' : '、')}</span>`] : null,
      d.coverage_end ? [t('ticket.coverage_end'), fmtDate(d.coverage_end)] : null,
      d.refund_cents ? [t('ticket.refund'), fmtMoney(d.refund_cents)] : null,
    ]} />
  <//>`;
}

function ActionForm({ id, title, fields, submitLabel, onDone, build, danger, formId }) {
  const [v, setV] = useState({});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  async function submit(ev) {
    ev.preventDefault();
    setError(null); setErrors({});
    const pre = {};
    const body = build(v, pre);
    if (Object.keys(pre).length) { setErrors(pre); return; }
    setBusy(true);
    try {
      const tk = await api('POST', `/v1/tickets/${encodeURIComponent(id)}/${formId}`, body, key.current);
      key.current = newKey();
      onDone(tk, body);
    } catch (e) {
      const fe = fieldErrors(e);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(e);
    } finally { setBusy(false); }
  }
  return html`<form class="action-form" onSubmit=${submit} novalidate id=${`form-${formId}`}>
    <h3>${title}</h3>
    <${ErrorSummary} errors=${errors} />
    <${ErrorBox} error=${error} />
    <div class="row-fields">${fields.map((f) => html`<${Field} name=${f.name} label=${t(f.label)} error=${errors[f.name]}>
      ${f.options ? html`<select ...${inputProps(f.name, errors[f.name])} value=${v[f.name] ?? f.options[0][0]} onChange=${(e) => setV({ ...v, [f.name]: e.target.value })}>
          ${f.options.map(([val, lab]) => html`<option value=${val}>${lab}</option>`)}</select>`
        : html`<input ...${inputProps(f.name, errors[f.name])} type=${f.type || 'text'} value=${v[f.name] ?? ''} placeholder=${f.placeholder || ''}
          list=${f.list || undefined} onInput=${(e) => setV({ ...v, [f.name]: e.target.value })} />`}<//>`)}</div>
    <div class="form-actions"><button class=${`btn ${danger ? 'btn-danger' : 'btn-primary'}`} type="submit" disabled=${busy} id=${`submit-${formId}`}>${submitLabel}</button></div>
  </form>`;
}

// The parts field of the diagnosis and of a parts request: "SKU*qty, …" → [{sku, qty}].
const PARTS_FIELD = { name: 'parts', label: 'f.parts', list: 'sku-list', placeholder: 'HX10-SCREEN*1, HX10-BATT' };
function partsOf(v, e, required) {
  const parts = parseParts(v.parts);
  if (parts === null) e.parts = t('v.parts');
  else if (required && !parts.length) e.parts = t('v.required', { field: t('f.parts') });
  return parts && parts.length ? parts : undefined;
}

function Ticket({ me, id }) {
  const [tk, setTk] = useState(null);
  const [error, setError] = useState(null);
  const [msg, setMsg] = useState(flash.take());
  async function load() {
    try { setTk(await api('GET', `/v1/tickets/${encodeURIComponent(id)}`)); setError(null); } catch (e) { setError(e); }
  }
  useEffect(() => { setTk(null); setError(null); load(); }, [id]);
  // The warranty decision usually lands within a second: look again while it is pending.
  useEffect(() => {
    if (!tk || tk.state !== 'received') return undefined;
    const h = setTimeout(load, 700);
    return () => clearTimeout(h);
  }, [tk]);
  if (error) {
    if (error.status === 404 || error.status === 400)
      return html`<div class="page"><div class="result" id="not-found"><h1>${t('err.notfound')}</h1><p>${t('err.notfound.ticket')}</p>
        <a class="btn" href="#/queue">${t('common.back')}</a></div></div>`;
    return html`<div class="page"><${ErrorBox} error=${error} /></div>`;
  }
  if (!tk) return html`<div class="page"><p class="muted">${t('common.loading')}</p></div>`;
  const d = tk.decision || {};
  const w = tk.work || {};
  const desk = can(me, DESK);
  const done = (next, body) => { if (body && body.payment_method) handbacks[tk.id] = { payment_method: body.payment_method, at: new Date().toISOString() }; setMsg(''); setTk(next); };
  const counterRemedy = tk.state === 'adjudicated' && d.status === 'granted' && (d.remedy === 'refund' || d.remedy === 'exchange');
  const pay = [['', '—'], ...['cash', 'card', 'wechat_pay', 'alipay', 'bank_transfer'].map((p) => [p, t(`pay.${p}`)])];
  const causes = ['manufacturing_quality', 'design_quality', 'parts_problem', 'customer_visit', 'service_station', 'other'];
  const handedBack = ['closed', 'refunded', 'exchanged'].includes(tk.state);
  const hasAction = ['received', 'adjudicated', 'awaiting_review', 'estimate_pending', 'in_repair', 'awaiting_parts', 'ready'].includes(tk.state);
  return html`<div class="page">
    ${msg ? html`<div class="alert alert-success" role="status">${msg}</div>` : null}
    <div class="page-head"><h1><span class="mono" id="ticket-id">${tk.id}</span> <${StateTag} state=${tk.state} /></h1>
      <div class="head-actions">
        <a class="btn" href=${`#/print/intake/${tk.id}`} id="print-intake">${t('act.print_intake')}</a>
        ${w.estimate_cents ? html`<a class="btn" href=${`#/print/estimate/${tk.id}`} id="print-estimate">${t('act.print_estimate')}</a>` : null}
        ${handedBack ? html`<a class="btn" href=${`#/print/invoice/${tk.id}`} id="print-invoice">${t('act.print_invoice')}</a>` : null}
        ${handedBack ? html`<a class="btn btn-primary" href=${`#/print/handback/${tk.id}`} id="print-handback">${t('act.print_handback')}</a>` : null}
        ${desk ? html`<a class="btn" href=${`#/complaints/new/${tk.id}`} id="open-complaint">${t('cp.from_ticket')}</a>` : null}
      </div></div>
    <div class="grid2">
      <${DecisionCard} tk=${tk} />
      <${Card} title=${t('ticket.work')}>
        <${Desc} items=${[
          [t('col.center'), tk.center], [t('col.opened'), fmtTime(tk.opened_at)], [t('col.waits'), waitsFor(tk)],
          [t('col.promised'), w.promised_date ? fmtDate(w.promised_date) : fmtTime(tk.promised_at)], w.fault_code ? [t('f.fault_code'), w.fault_code] : null,
          w.estimate_cents ? [t('f.estimate'), fmtMoney(w.estimate_cents)] : null,
          w.outcome ? [t('print.outcome'), t(`outcome.${w.outcome}`)] : null,
        ]} />
      <//>
      ${(w.requested || []).length || (w.parts || []).length ? html`<${Card} title=${t('work.parts')} cls="wide"><${PartLines} w=${w} /><//>` : null}
      <${Card} title=${t('intake.customer')}>
        <${Desc} items=${[[t('f.customer.name'), tk.customer && tk.customer.name], [t('f.customer.phone'), tk.customer && tk.customer.phone],
          [t('f.request'), t(`req.${tk.request}`)],
          tk.customer_tier && tk.customer_tier !== 'regular' ? [t('cu.tier'), `${t(`tier.${tk.customer_tier}`)}${tk.account_owner ? ` · ${tk.account_owner}` : ''}`] : null,
          tk.customer_id && can(me, ['admin', 'center']) ? [t('cu.id'), html`<a class="mono" id="ticket-customer" href=${`#/customers/${encodeURIComponent(tk.customer_id)}`}>${tk.customer_id}</a>`] : null]} />
      <//>
      <${Card} title=${t('intake.device')}>
        <${Desc} items=${[[t('f.device.brand'), tk.device && `${tk.device.brand || ''} ${tk.device.model || ''}`],
          [t('f.device.imei'), html`<span class="mono">${tk.device && tk.device.imei}</span>`],
          [t('f.purchase.invoice_date'), fmtDate(tk.purchase && tk.purchase.invoice_date)],
          [t('f.purchase.price_cents'), fmtMoney(tk.purchase && tk.purchase.price_cents)],
          [t('f.fault.description'), tk.fault && tk.fault.description]]} />
      <//>
    </div>
    ${desk && hasAction ? html`<${SkuList} /><${LabourList} category=${tk.device && tk.device.category} />` : null}
    ${desk && hasAction ? html`<div class="card actions" id="actions">
      ${tk.state === 'adjudicated' && !counterRemedy ? html`<${ActionForm} id=${tk.id} formId="diagnosis" title=${t('act.diagnose')} submitLabel=${t('common.save')} onDone=${done}
        fields=${[{ name: 'fault_code', label: 'f.fault_code' }, { name: 'labour_code', label: 'f.labour_code', list: 'labour-list' },
          PARTS_FIELD, ...(d.free ? [] : [{ name: 'estimate_cents', label: 'f.estimate', placeholder: '580.00' }]),
          { name: 'promised_date', label: 'f.promised_date', placeholder: today() }, { name: 'note', label: 'f.note' }]}
        build=${(v, e) => { const est = v.estimate_cents ? moneyToCents(v.estimate_cents) : undefined; if (v.estimate_cents && est === null) e.estimate_cents = t('v.money');
          if (v.promised_date && !dateOk(v.promised_date)) e.promised_date = t('v.date');
          return { fault_code: v.fault_code || undefined, labour_code: v.labour_code || undefined, parts: partsOf(v, e, false), estimate_cents: est, promised_date: v.promised_date || undefined, note: v.note || undefined }; }} />` : null}
      ${tk.state === 'estimate_pending' ? html`<div class="consent"><p>${t('f.estimate')}: <strong>${fmtMoney(w.estimate_cents)}</strong></p>
        <${ActionForm} id=${tk.id} formId="consent" title=${t('act.consent')} submitLabel=${t('common.save')} onDone=${done}
          fields=${[{ name: 'accept', label: 'act.consent', options: [['true', t('f.accept')], ['false', t('f.decline')]] }, { name: 'note', label: 'f.note' }]}
          build=${(v) => ({ accept: (v.accept ?? 'true') === 'true', note: v.note || undefined })} /></div>` : null}
      ${['in_repair', 'awaiting_parts'].includes(tk.state) ? html`<${ActionForm} id=${tk.id} formId="parts-requests" title=${t('act.request_parts')} submitLabel=${t('act.request_parts')} onDone=${done}
        fields=${[PARTS_FIELD]} build=${(v, e) => ({ parts: partsOf(v, e, true) })} />` : null}
      ${['in_repair', 'awaiting_parts'].includes(tk.state) && w.paid ? html`<${ActionForm} id=${tk.id} formId="revise-estimate" title=${t('act.revise')} submitLabel=${t('act.revise')} onDone=${done}
        fields=${[{ name: 'estimate_cents', label: 'f.new_estimate', placeholder: '650.00' }, { name: 'note', label: 'f.note' }]}
        build=${(v, e) => { const est = moneyToCents(v.estimate_cents || ''); if (!est) e.estimate_cents = t('v.money'); return { estimate_cents: est || undefined, note: v.note || undefined }; }} />` : null}
      ${['in_repair', 'awaiting_parts'].includes(tk.state) ? html`<${ActionForm} id=${tk.id} formId="repair-complete" title=${t('act.complete')} submitLabel=${t('common.save')} onDone=${done}
        fields=${[{ name: 'labour_minutes', label: 'f.labour_minutes', type: 'number' }, { name: 'cause', label: 'f.cause', options: causes.map((c) => [c, c]) }, { name: 'note', label: 'f.note' }]}
        build=${(v) => ({ labour_minutes: v.labour_minutes ? Number(v.labour_minutes) : undefined, cause: v.cause || causes[0], note: v.note || undefined,
          parts_used: usedLines(w) })} />` : null}
      ${tk.state === 'ready' || counterRemedy ? html`<${ActionForm} id=${tk.id} formId="handback" title=${t('act.handback')} submitLabel=${t('act.handback')} onDone=${done}
        fields=${[{ name: 'payment_method', label: 'f.payment_method', options: pay }, { name: 'loaner_unit', label: 'f.loaner_unit' }, { name: 'note', label: 'f.note' }]}
        build=${(v) => ({ payment_method: v.payment_method || undefined, loaner_unit: v.loaner_unit || undefined, note: v.note || undefined })} />` : null}
      ${['received', 'adjudicated', 'awaiting_review', 'estimate_pending'].includes(tk.state) ? html`<details class="danger-zone"><summary>${t('act.cancel')}</summary>
        <${ActionForm} id=${tk.id} formId="cancel" title=${t('act.cancel')} submitLabel=${t('act.cancel')} danger=${true} onDone=${done}
          fields=${[{ name: 'reason', label: 'f.reason' }]} build=${(v, e) => { if (!v.reason) e.reason = t('v.required', { field: t('f.reason') }); return { reason: v.reason }; }} /></details>` : null}
    </div>` : null}
    <${Card} title=${t('ticket.timeline')}>
      <ol class="timeline">${(tk.timeline || []).map((e) => html`<li><span class="tl-time">${fmtTime(e.at)}</span>
        <span class="tl-event">${e.to_state ? html`<${StateTag} state=${e.to_state} />` : null} ${t(`ev.${e.event}`) !== `ev.${e.event}` ? t(`ev.${e.event}`) : e.event}</span>
        <span class="muted">${e.actor || ''}${e.note ? ` — ${e.note}` : ''}</span></li>`)}</ol>
    <//>
  </div>`;
}

// ---- printable documents ---------------------------------------------------------------------

function Qr({ text, size = 120 }) {
  const q = qrEncode(text, { ecc: 'M', border: 2 });
  let d = '';
  q.data.forEach((row, y) => row.forEach((on, x) => { if (on) d += `M${x} ${y}h1v1h-1z`; }));
  return html`<svg class="qr" id="qr" role="img" aria-label=${text} width=${size} height=${size} viewBox=${`0 0 ${q.size} ${q.size}`} shape-rendering="crispEdges">
    <rect width=${q.size} height=${q.size} fill="#fff" /><path d=${d} fill="#000" /></svg>`;
}

const DOC_TITLES = { intake: 'print.intake', handback: 'print.handback', estimate: 'print.estimate', invoice: 'print.invoice' };
function PrintDoc({ me, kind, id }) {
  const [tk, setTk] = useState(null);
  const [error, setError] = useState(null);
  const [paper, setPaper] = useState(localStorage.getItem('as_paper') || 'a4');
  const [inv, setInv] = useState(undefined); // the invoice (invoice printout): undefined asking, null none
  useEffect(() => { api('GET', `/v1/tickets/${encodeURIComponent(id)}`).then(setTk, setError); }, [id]);
  useEffect(() => {
    if (kind !== 'invoice') return;
    api('GET', `/v1/settlement/charges/${encodeURIComponent(id)}`)
      .then((c) => (c && c.invoice_no ? api('GET', `/v1/settlement/invoices/${encodeURIComponent(c.invoice_no)}`) : null))
      .then((x) => setInv(x || null), (e) => setInv(e.status === 404 ? null : e));
  }, [id, kind]);
  useEffect(() => { localStorage.setItem('as_paper', paper); document.body.dataset.paper = paper; return () => { delete document.body.dataset.paper; }; }, [paper]);
  if (error) return html`<div class="page"><div class="result" id="not-found"><h1>${t('err.notfound')}</h1><p>${t('err.notfound.ticket')}</p></div></div>`;
  if (!tk) return html`<div class="page"><p class="muted">${t('common.loading')}</p></div>`;
  const d = tk.decision || {};
  const w = tk.work || {};
  const hb = handbacks[tk.id] || {};
  const handed = (tk.timeline || []).filter((e) => e.event === 'handed_back').pop();
  const pm = tk.payment_method || w.payment_method || hb.payment_method;
  return html`<div class="print-page">
    <div class="print-toolbar no-print">
      <a class="btn" href=${`#/tickets/${tk.id}`}>${t('common.back')}</a>
      <label>${t('print.format')} <select id="paper" value=${paper} onChange=${(e) => setPaper(e.target.value)}>
        <option value="a4">${t('print.a4')}</option><option value="receipt">${t('print.receipt')}</option></select></label>
      <button class="btn btn-primary" type="button" id="do-print" onClick=${() => window.print()}>${t('common.print')}</button>
    </div>
    <article class=${`doc doc-${paper}`} id="doc">
      <header class="doc-head">
        <div><div class="doc-org">${t('app.title')} · ${tk.center}</div>
          <h1>${t(DOC_TITLES[kind] || 'print.intake')}</h1>
          <div class="doc-no">${t('col.id')}: <strong class="mono" id="doc-ticket">${tk.id}</strong></div>
          <div>${t('col.opened')}: ${fmtTime(tk.opened_at)}</div></div>
        <${Qr} text=${tk.id} size=${paper === 'receipt' ? 96 : 112} />
      </header>
      <${Desc} items=${[
        [t('f.customer.name'), tk.customer && tk.customer.name], [t('f.customer.phone'), tk.customer && tk.customer.phone],
        [t('col.device'), tk.device && `${tk.device.brand || ''} ${tk.device.model || ''}`],
        [t('search.imei'), tk.device && (tk.device.imei || tk.device.serial)],
        [t('f.fault.description'), tk.fault && tk.fault.description],
        [t('f.request'), t(`req.${tk.request}`)],
        [t('ticket.decision'), d.status ? `${t(`dec.${d.status}`)} · ${t(`remedy.${d.remedy === 'repair' && !d.free ? 'paid_repair' : d.remedy || 'none'}`)} (${(d.rules || []).join(', ')})` : t('ticket.waiting')],
        d.refund_cents ? [t('ticket.refund'), fmtMoney(d.refund_cents)] : null,
        w.estimate_cents ? [t('f.estimate'), fmtMoney(w.estimate_cents)] : null,
        w.promised_date ? [t('f.promised_date'), fmtDate(w.promised_date)] : null,
        kind === 'handback' ? [t('col.state'), t(`state.${tk.state}`)] : null,
        kind === 'handback' ? [t('print.handed'), fmtTime(handed && handed.at)] : null,
        kind === 'handback' && pm ? [t('f.payment_method'), html`<span id="doc-payment">${t(`pay.${pm}`)}</span>`] : null,
      ]} />
      ${kind === 'estimate' ? html`<div id="doc-estimate"><h2 class="doc-sub">${t('print.estimate_lines')}</h2>
        <table class="table doc-table"><thead><tr><th>${t('print.item')}</th><th class="num">${t('tr.qty')}</th></tr></thead><tbody>
          ${w.labour_code ? html`<tr><td>${t('f.labour_code')}: <span class="mono">${w.labour_code}</span></td><td class="num">1</td></tr>` : null}
          ${(w.parts || []).map((l) => html`<tr><td class="mono">${l.sku}</td><td class="num">${l.qty}</td></tr>`)}</tbody>
          <tfoot><tr><th>${t('print.estimate_total')}</th><th class="num" id="doc-estimate-total">${fmtMoney(w.estimate_cents || 0)}</th></tr></tfoot></table>
        <p class="doc-terms">${t('print.estimate_terms')}</p></div>` : null}
      ${kind === 'invoice' ? html`<div id="doc-invoice">${inv === undefined ? html`<p class="muted">${t('common.loading')}</p>`
        : inv === null ? html`<p class="muted" id="doc-no-invoice">${t('print.no_invoice')}</p>`
        : inv instanceof Error ? html`<${ErrorBox} error=${inv} />`
        : html`<div class="doc-no doc-sub">${t('print.invoice_no')}: <strong class="mono" id="doc-invoice-no">${inv.invoice_no}</strong> · ${fmtDate(inv.issue_date)}</div>
          <table class="table doc-table"><thead><tr><th>${t('print.item')}</th><th class="num">${t('tr.qty')}</th><th class="num">${t('print.unit')}</th><th class="num">${t('print.amount')}</th></tr></thead>
            <tbody>${(inv.lines || []).filter((l) => l.kind !== 'vat').map((l) => html`<tr><td>${l.description || l.code}</td><td class="num">${l.qty ?? 1}</td><td class="num">${fmtMoney(l.unit_cents || 0)}</td><td class="num">${fmtMoney(l.amount_cents || 0)}</td></tr>`)}</tbody>
            <tfoot><tr><th colspan="3">${t('print.net')}</th><th class="num">${fmtMoney(inv.net_cents || 0)}</th></tr>
              <tr><th colspan="3">${t('print.vat', { rate: ((inv.vat_rate_bp || 0) / 100).toFixed(0) })}</th><th class="num">${fmtMoney(inv.vat_cents || 0)}</th></tr>
              <tr><th colspan="3">${t('print.total')}</th><th class="num" id="doc-invoice-total">${fmtMoney(inv.total_cents || 0)}</th></tr></tfoot></table>`}</div>` : null}
      <p class="doc-terms">${t('print.terms')}</p>
      <footer class="doc-sign"><div>${t('print.sign')}: ____________</div><div>${t('print.staff')}: ${me.display_name || me.login}</div><div>${fmtDate(today())}</div></footer>
    </article>
  </div>`;
}

// ---- staff accounts (admin, region) ----------------------------------------------------------

function Users() {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { api('GET', '/v1/users').then((r) => setRows(r.users || []), setError); }, []);
  return html`<div class="page"><div class="page-head"><h1>${t('users.title')}</h1></div>
    <${ErrorBox} error=${error} />
    <div class="card table-card"><table class="table" id="users-table">
      <thead><tr><th>${t('users.login')}</th><th>${t('users.name')}</th><th>${t('users.role')}</th><th>${t('users.site')}</th><th>${t('users.region')}</th><th>${t('users.active')}</th></tr></thead>
      <tbody>${rows ? rows.map((u) => html`<tr><td class="mono">${u.login}</td><td>${u.display_name}</td><td>${t(`role.${u.role}`)}</td>
        <td>${u.site || '—'}</td><td>${u.region || '—'}</td><td>${u.active === false ? html`<${Tag} color="red">${t('users.off')}<//>` : html`<${Tag} color="green">${t('users.on')}<//>`}</td></tr>`)
        : html`<tr><td colspan="6" class="empty">${t('common.loading')}</td></tr>`}</tbody></table></div></div>`;
}

// ---- warehouse: stock by site ---------------------------------------------------------------

// The stock route answers every SKU of a site at once (it has no paging and no low-stock
// filter): the low-stock filter is applied here, on the answer.
const stockMemory = { site: '', low: false };
function Stock({ me }) {
  const [site, setSite] = useState(stockMemory.site || me.site || 'WH01');
  const [low, setLow] = useState(stockMemory.low);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    Object.assign(stockMemory, { site, low });
    try { setRows((await api('GET', `/v1/parts/stock${qs({ site })}`)).items || []); } catch (e) { setError(e); setRows([]); }
  }
  useEffect(() => { load(); }, []);
  const shown = (rows || []).filter((r) => !low || r.below_safety || (r.reorder_point && r.available <= r.reorder_point));
  return html`<div class="page"><div class="page-head"><h1>${t('stock.title')}</h1></div>
    <form class="card filter-bar" onSubmit=${load} id="stock-filters"><div class="filters">
      <${Field} name="s.site" label=${t('stock.site')} error=${error && error.status === 400 ? errText(error) : null}>
        <input ...${inputProps('s.site', error)} value=${site} onInput=${(e) => setSite(e.target.value.trim())} /><//>
      <div class="field"><label class="check check-aligned"><input type="checkbox" id="f-s-low" checked=${low} onChange=${(e) => setLow(e.target.checked)} /> ${t('stock.low')}</label></div>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="stock-search">${t('common.search')}</button></div>
    </div></form>
    ${error && error.status !== 400 ? html`<${ErrorBox} error=${error} />` : null}
    <div class="card table-card"><table class="table" id="stock-table">
      <thead><tr><th>SKU</th><th>${t('stock.name')}</th><th class="num">${t('stock.on_hand')}</th><th class="num">${t('stock.reserved')}</th>
        <th class="num">${t('stock.available')}</th><th class="num">${t('stock.safety')}</th><th class="num">${t('stock.inbound')}</th><th class="num">${t('stock.backordered')}</th><th>${t('col.state')}</th></tr></thead>
      <tbody>${rows === null ? html`<tr><td colspan="9" class="empty">${t('common.loading')}</td></tr>`
        : shown.length ? shown.map((r) => html`<tr><td class="mono">${r.sku}</td><td>${r.name}</td><td class="num">${r.on_hand}</td><td class="num">${r.reserved}</td>
          <td class="num"><strong>${r.available}</strong></td><td class="num">${r.safety_level ?? '—'} / ${r.reorder_point ?? '—'}</td><td class="num">${r.inbound}</td><td class="num">${r.backordered}</td>
          <td>${r.below_safety ? html`<${Tag} color="red">${t('stock.below')}<//>` : r.reorder_point && r.available <= r.reorder_point ? html`<${Tag} color="orange">${t('stock.reorder')}<//>` : html`<${Tag} color="green">${t('stock.ok')}<//>`}</td></tr>`)
        : html`<tr><td colspan="9" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div></div>`;
}

// ---- region dashboard: per-centre figures from the report routes, as bars ---------------------

function Bars({ rows, value, label, id, fmt }) {
  const max = Math.max(1, ...rows.map((r) => Math.abs(Number(value(r)) || 0)));
  const h = 28;
  return html`<svg class="bars" id=${id} role="img" aria-label=${label} width="100%" height=${rows.length * h + 8} viewBox=${`0 0 400 ${rows.length * h + 8}`} preserveAspectRatio="xMinYMin meet">
    ${rows.map((r, i) => { const v = Number(value(r)) || 0; const w = Math.max(1, (Math.abs(v) / max) * 250); return html`<g transform=${`translate(0 ${i * h + 4})`}>
      <text x="0" y="15" class="bar-label">${r.key}</text><rect x="80" y="2" width=${w} height="18" rx="3" class=${v < 0 ? 'bar neg' : 'bar'} />
      <text x=${86 + w} y="15" class="bar-value">${fmt ? fmt(v) : v}</text></g>`; })}</svg>`;
}

// The business date n days ago (China), for the report routes' `from`.
const sinceDays = (n) => new Date(Date.now() - n * 864e5 + 8 * 36e5).toISOString().slice(0, 10);
// Cost per repair: the settlement's total cost of a centre's charge sets over their number.
const perRepair = (r) => (r.tickets ? Math.round((r.total_cost_cents || 0) / r.tickets) : 0);

function Dashboard() {
  const [sat, setSat] = useState(null);
  const [cmp, setCmp] = useState(null);
  const [cost, setCost] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', `/v1/settlement/costs${qs({ group: 'center', from: sinceDays(30) })}`).then(setCost, setError);
    api('GET', `/v1/reports/satisfaction${qs({ group: 'center' })}`).then(setSat, setError);
    api('GET', `/v1/reports/complaints${qs({ group: 'center' })}`).then(setCmp, setError);
  }, []);
  const empty = html`<p class="muted empty">${t('common.none')}</p>`;
  return html`<div class="page"><div class="page-head"><h1>${t('dash.title')}</h1>
      <span class="muted">${sat ? `${fmtDate(sat.from)} – ${fmtDate(sat.to)}` : ''}</span></div>
    <${ErrorBox} error=${error} />
    <div class="grid2">
      <${Card} title=${t('dash.nps')}>${sat ? (sat.rows || []).length ? html`<${Bars} id="chart-nps" rows=${sat.rows} value=${(r) => r.nps} label=${t('dash.nps')} />` : empty : t('common.loading')}<//>
      <${Card} title=${t('dash.complaints')}>${cmp ? (cmp.rows || []).length ? html`<${Bars} id="chart-complaints" rows=${cmp.rows} value=${(r) => r.count} label=${t('dash.complaints')} />` : empty : t('common.loading')}<//>
      <${Card} title=${t('dash.cost')} cls="wide">${cost ? (cost.rows || []).filter((r) => r.tickets).length
        ? html`<${Bars} id="chart-cost" rows=${cost.rows.filter((r) => r.tickets)} value=${perRepair} fmt=${fmtMoney} label=${t('dash.cost')} />
          <p class="hint">${t('dash.cost_hint', { n: (cost.total && cost.total.tickets) || 0 })}</p>` : empty : t('common.loading')}<//>
    </div>
    <div class="card table-card"><table class="table" id="dash-table">
      <thead><tr><th>${t('col.center')}</th><th class="num">${t('dash.responses')}</th><th class="num">${t('dash.score')}</th><th class="num">NPS</th>
        <th class="num">${t('dash.rate')}</th><th class="num">${t('dash.complaints')}</th><th class="num">${t('dash.open_c')}</th><th class="num">${t('dash.escalated')}</th></tr></thead>
      <tbody>${(() => {
        const keys = [...new Set([...((sat && sat.rows) || []).map((r) => r.key), ...((cmp && cmp.rows) || []).map((r) => r.key)])].sort();
        if (!keys.length) return html`<tr><td colspan="8" class="empty">${sat && cmp ? t('common.none') : t('common.loading')}</td></tr>`;
        return keys.map((k) => { const s1 = ((sat && sat.rows) || []).find((r) => r.key === k) || {}; const c1 = ((cmp && cmp.rows) || []).find((r) => r.key === k) || {};
          return html`<tr><td class="mono">${k}</td><td class="num">${s1.responses ?? '—'}</td><td class="num">${s1.weighted_score ?? '—'}</td><td class="num">${s1.nps ?? '—'}</td>
            <td class="num">${s1.response_rate ? `${(Number(s1.response_rate) * 100).toFixed(1)}%` : '—'}</td><td class="num">${c1.count ?? '—'}</td><td class="num">${c1.open ?? '—'}</td><td class="num">${c1.escalated ?? '—'}</td></tr>`; });
      })()}</tbody></table></div></div>`;
}

// ---- finance: trial balance, manufacturer claims, the ledger export ---------------------------

const CLAIM_STATES = ['open', 'submitted', 'approved', 'partially_approved', 'rejected', 'paid'];
function Finance({ me }) {
  const month = today().slice(0, 7);
  const [period, setPeriod] = useState(month);
  const [cstate, setCstate] = useState('');
  const [bal, setBal] = useState(null);
  const [claims, setClaims] = useState(null);
  const [cursors, setCursors] = useState([]);
  const [errors, setErrors] = useState({});
  const [balErr, setBalErr] = useState(null);
  const [claimErr, setClaimErr] = useState(null);
  async function loadBal() {
    setBalErr(null);
    try { setBal(await api('GET', `/v1/settlement/balance${qs({ period })}`)); } catch (e) { setBalErr(e); setBal(null); }
  }
  async function loadClaims(after) {
    setClaimErr(null);
    try { setClaims(await api('GET', `/v1/settlement/claims${qs({ state: cstate, period, after, limit: 20 })}`)); } catch (e) { setClaimErr(e); setClaims(null); }
  }
  function apply(ev) {
    if (ev) ev.preventDefault();
    if (!/^\d{4}-\d{2}$/.test(period)) { setErrors({ 'fin.period': t('fin.period_bad') }); return; }
    setErrors({}); setCursors([]); loadBal(); loadClaims(undefined);
  }
  useEffect(() => { apply(); }, []);
  const from = `${period}-01`;
  const to = /^\d{4}-\d{2}$/.test(period) ? new Date(Date.UTC(Number(period.slice(0, 4)), Number(period.slice(5, 7)), 0)).toISOString().slice(0, 10) : '';
  return html`<div class="page"><div class="page-head"><h1>${t('fin.title')}</h1>
      ${me.role === 'finance' ? html`<a class="btn btn-primary" id="export-csv" download=${`ledger-${period}.csv`} href=${`/v1/settlement/export${qs({ format: 'csv', from, to })}`}>${t('fin.export')}</a>` : null}</div>
    <form class="card filter-bar" onSubmit=${apply} id="fin-filters"><div class="filters">
      <${Field} name="fin.period" label=${t('fin.period')} error=${errors['fin.period']}><input ...${inputProps('fin.period', errors['fin.period'])} value=${period} placeholder=${month} onInput=${(e) => setPeriod(e.target.value.trim())} /><//>
      <${Field} name="fin.state" label=${t('fin.claim_state')}><select ...${inputProps('fin.state')} value=${cstate} onChange=${(e) => setCstate(e.target.value)}>
        <option value="">${t('queue.all')}</option>${CLAIM_STATES.map((c) => html`<option value=${c}>${t(`claim.${c}`)}</option>`)}</select><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="fin-search">${t('common.search')}</button></div>
    </div></form>
    <${Card} title=${t('fin.balance')} extra=${bal ? html`<span id="balanced">${bal.balanced ? html`<${Tag} color="green">${t('fin.balanced')}<//>` : html`<${Tag} color="red">${t('fin.unbalanced')}<//>`}</span>` : null}>
      <${ErrorBox} error=${balErr} />
      <table class="table" id="balance-table"><thead><tr><th>${t('fin.account')}</th><th>${t('fin.name')}</th><th>${t('fin.kind')}</th><th class="num">${t('fin.debit')}</th><th class="num">${t('fin.credit')}</th><th class="num">${t('fin.bal')}</th></tr></thead>
        <tbody>${bal && (bal.accounts || []).length ? bal.accounts.map((a) => html`<tr><td class="mono">${a.account}</td><td>${a.name}</td><td>${t(`kind.${a.kind}`)}</td>
          <td class="num">${fmtMoney(a.debit_cents || 0)}</td><td class="num">${fmtMoney(a.credit_cents || 0)}</td><td class="num">${fmtMoney(a.balance_cents || 0)}</td></tr>`)
          : html`<tr><td colspan="6" class="empty">${bal ? t('common.none') : t('common.loading')}</td></tr>`}</tbody>
        ${bal ? html`<tfoot><tr><th colspan="3">${t('fin.total', { n: bal.entries || 0 })}</th><th class="num">${fmtMoney(bal.debit_cents || 0)}</th><th class="num">${fmtMoney(bal.credit_cents || 0)}</th><th></th></tr></tfoot>` : null}
      </table>
    <//>
    ${to ? html`<${CostCharts} from=${from} to=${to} />` : null}
    <${Card} title=${t('fin.claims')}>
      <${ErrorBox} error=${claimErr} />
      <table class="table" id="claims-table"><thead><tr><th>${t('fin.claim')}</th><th>${t('fin.manufacturer')}</th><th>${t('fin.period')}</th><th>${t('col.state')}</th>
        <th class="num">${t('fin.claimed')}</th><th class="num">${t('fin.approved')}</th><th class="num">${t('fin.paid')}</th></tr></thead>
        <tbody>${claims && (claims.claims || []).length ? claims.claims.map((c) => html`<tr><td><a class="mono" href=${`#/claims/${encodeURIComponent(c.id)}`}>${c.id}</a></td><td>${c.manufacturer}</td><td>${c.period}${c.batch ? ` #${c.batch}` : ''}</td>
          <td><${Tag} color=${c.state === 'paid' ? 'green' : c.state === 'rejected' ? 'red' : c.state === 'open' ? 'blue' : 'gold'}>${t(`claim.${c.state}`)}<//></td>
          <td class="num">${fmtMoney(c.claimed_cents || 0)}</td><td class="num">${fmtMoney(c.approved_cents || 0)}</td><td class="num">${fmtMoney(c.paid_cents || 0)}</td></tr>`)
          : html`<tr><td colspan="7" class="empty">${claims ? t('common.none') : t('common.loading')}</td></tr>`}</tbody></table>
      <div class="pager">
        <button class="btn" type="button" disabled=${!cursors.length} onClick=${() => { setCursors([]); loadClaims(undefined); }}>${t('common.first')}</button>
        <button class="btn" type="button" disabled=${!(claims && claims.next)} onClick=${() => { setCursors([...cursors, claims.next]); loadClaims(claims.next); }}>${t('common.next')}</button>
      </div>
    <//>
  </div>`;
}

// ---- shared pieces of the second-round screens ------------------------------------------------

// A list loaded from one GET route: {data, error, loading, reload}.
function useGet(path, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = () => {
    setState((s) => ({ ...s, loading: true }));
    api('GET', path).then((data) => setState({ data, error: null, loading: false }), (error) => setState({ data: null, error, loading: false }));
  };
  useEffect(reload, deps || [path]);
  return { ...state, reload };
}

// A small form posting to one route; fields [{name, label, type, options, placeholder, list}].
// build(v, errors) turns the values into the body (and may add field errors of its own).
function MiniForm({ path, fields, submitLabel, onDone, build, formId, danger, inline, initial }) {
  const [v, setV] = useState(initial || {});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  async function submit(ev) {
    ev.preventDefault();
    setError(null); setErrors({});
    const pre = {};
    const body = build ? build(v, pre) : v;
    if (Object.keys(pre).length) { setErrors(pre); return; }
    setBusy(true);
    try {
      const r = await api('POST', path, body, key.current);
      key.current = newKey();
      setV(initial || {});
      onDone && onDone(r, body);
    } catch (e) {
      const fe = fieldErrors(e);
      setErrors(fe);
      if (!Object.keys(fe).length) setError(e);
    } finally { setBusy(false); }
  }
  const set = (n) => (e) => {
    setV({ ...v, [n]: e.target.value });
    if (errors[n]) { const x = { ...errors }; delete x[n]; setErrors(x); }
  };
  return html`<form class=${`mini-form${inline ? ' inline' : ''}`} onSubmit=${submit} novalidate id=${`form-${formId}`}>
    <${ErrorBox} error=${error} />
    <div class="row-fields">${fields.map((f) => html`<${Field} name=${`${formId}.${f.name}`} label=${t(f.label)} error=${errors[f.name]}>
      ${f.options ? html`<select ...${inputProps(`${formId}.${f.name}`, errors[f.name])} value=${v[f.name] ?? ''} onChange=${set(f.name)}>
          ${f.options.map(([val, lab]) => html`<option value=${val}>${lab}</option>`)}</select>`
        : f.area ? html`<textarea ...${inputProps(`${formId}.${f.name}`, errors[f.name])} rows="3" value=${v[f.name] ?? ''} onInput=${set(f.name)}></textarea>`
        : html`<input ...${inputProps(`${formId}.${f.name}`, errors[f.name])} type=${f.type || 'text'} value=${v[f.name] ?? ''} placeholder=${f.placeholder || ''}
          list=${f.list || undefined} inputmode=${f.inputmode || undefined} onInput=${set(f.name)} />`}<//>`)}</div>
    <div class="form-actions"><button class=${`btn ${danger ? 'btn-danger' : 'btn-primary'}`} type="submit" disabled=${busy} id=${`submit-${formId}`}>${submitLabel}</button></div>
  </form>`;
}

// One button posting to one route (ship, approve, acknowledge…); its error is shown beside it.
function PostButton({ path, body, label, onDone, id, danger }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  async function go1() {
    setBusy(true); setError(null);
    try { const r = await api('POST', path, body || {}, key.current); key.current = newKey(); onDone && onDone(r); } catch (e) { setError(e); }
    setBusy(false);
  }
  return html`<span class="post-button"><button type="button" class=${`btn btn-sm ${danger ? 'btn-danger' : ''}`} id=${id} disabled=${busy} onClick=${go1}>${label}</button>
    ${error ? html`<span class="inline-error" role="alert">${errText(error)}</span>` : null}</span>`;
}

// "SKU" or "SKU*2" / "SKU×2" / "SKU x 2", comma separated → [{sku, qty}]; null when malformed.
function parseParts(s) {
  const out = [];
  for (const part of String(s || '').split(/[,，;\n]/).map((x) => x.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9._-]+)\s*(?:[*×xX]\s*(\d{1,3}))?$/.exec(part);
    if (!m) return null;
    out.push({ sku: m[1], qty: m[2] ? Number(m[2]) : 1 });
  }
  return out;
}
const LINE_COLOR = { requested: 'blue', reserved: 'green', backordered: 'volcano', issued: 'geekblue', released: 'default' };
const LineTag = ({ st }) => html`<${Tag} color=${LINE_COLOR[st] || 'default'}>${t(`line.${st || 'requested'}`)}<//>`;

// The SKUs of the catalogue, for the parts fields' suggestions.
function SkuList() {
  const [skus, setSkus] = useState([]);
  useEffect(() => { api('GET', '/v1/parts/skus').then((r) => setSkus(r.skus || r.items || []), () => setSkus([])); }, []);
  return html`<datalist id="sku-list">${skus.map((s) => html`<option value=${s.sku}>${s.name || ''}</option>`)}</datalist>`;
}

// The labour codes of the price list (with their list price), for the diagnosis' suggestions.
function LabourList({ category }) {
  const [rows, setRows] = useState([]);
  useEffect(() => { api('GET', '/v1/settlement/rates').then((r) => setRows(r.labour || []), () => setRows([])); }, []);
  return html`<datalist id="labour-list">${rows.filter((r) => r.category === '*' || r.category === category)
    .map((r) => html`<option value=${r.labour_code}>${r.description} · ${fmtMoney(r.list_flat_cents || 0)}</option>`)}</datalist>`;
}

// The part lines of a ticket: what the diagnosis needs, what was asked of the parts service.
function PartLines({ w }) {
  const req = w.requested || [];
  return html`<table class="table" id="part-lines"><thead><tr><th>#</th><th>SKU</th><th class="num">${t('tr.qty')}</th><th>${t('col.state')}</th></tr></thead>
    <tbody>${req.length ? req.map((l) => html`<tr><td>${l.line_no}</td><td class="mono">${l.sku}</td><td class="num">${l.qty}</td><td><${LineTag} st=${l.status} /></td></tr>`)
      : (w.parts || []).length ? w.parts.map((l, i) => html`<tr><td>${i + 1}</td><td class="mono">${l.sku}</td><td class="num">${l.qty}</td><td><span class="muted">${t('line.needed')}</span></td></tr>`)
      : html`<tr><td colspan="4" class="empty">${t('common.none')}</td></tr>`}</tbody></table>`;
}

// ---- workshop: the centre's work by state -----------------------------------------------------

const WORK_STATES = ['adjudicated', 'estimate_pending', 'in_repair', 'awaiting_parts', 'ready'];
const workMemory = { center: '' };
function Workshop({ me }) {
  const [center, setCenter] = useState(workMemory.center);
  const [lists, setLists] = useState({});
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    workMemory.center = center;
    setError(null); setLists({});
    const out = {};
    try {
      await Promise.all(WORK_STATES.map(async (s) => { out[s] = (await api('GET', `/v1/tickets${qs({ state: s, center, order: 'priority', limit: 50 })}`)).tickets || []; }));
      setLists(out);
    } catch (e) { setError(e); }
  }
  useEffect(() => { load(); }, []);
  const partsSummary = (tk) => {
    const req = (tk.work && tk.work.requested) || [];
    if (!req.length) return html`<span class="muted">—</span>`;
    return req.map((l) => html`<div><span class="mono">${l.sku}×${l.qty}</span> <${LineTag} st=${l.status} /></div>`);
  };
  return html`<div class="page"><div class="page-head"><h1>${t('work.title')}</h1></div>
    ${me.role !== 'center' ? html`<form class="card filter-bar" onSubmit=${load} id="work-filters"><div class="filters">
      <${Field} name="w.center" label=${t('col.center')}><input ...${inputProps('w.center')} value=${center} placeholder="SH01" onInput=${(e) => setCenter(e.target.value.trim().toUpperCase())} /><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="work-search">${t('common.search')}</button></div></div></form>`
      : html`<p class="muted">${t('work.mine', { center: me.site || '' })}</p>`}
    <${ErrorBox} error=${error} />
    ${WORK_STATES.map((s) => html`<${Card} title=${html`<${StateTag} state=${s} /> ${t(`work.h.${s}`)}`} extra=${lists[s] ? html`<span class="muted">${lists[s].length}</span>` : null}>
      <div class="table-card"><table class="table" id=${`work-${s}`}><thead><tr><th>${t('col.id')}</th><th>${t('col.device')}</th><th>${t('f.fault_code')}</th>
        <th>${t('col.promised')}</th><th>${t('work.parts')}</th><th>${t('col.waits')}</th></tr></thead>
        <tbody>${!lists[s] ? html`<tr><td colspan="6" class="empty">${error ? '—' : t('common.loading')}</td></tr>`
          : lists[s].length ? lists[s].map((tk) => html`<tr><td><a class="mono" href=${`#/tickets/${tk.id}`}>${tk.id}</a>${me.role !== 'center' ? html`<div class="muted">${tk.center}</div>` : null}</td>
            <td>${[tk.device && tk.device.brand, tk.device && tk.device.model].filter(Boolean).join(' ')}</td>
            <td class="mono">${(tk.work && tk.work.fault_code) || (tk.fault && tk.fault.code) || '—'}</td>
            <td>${fmtDate((tk.work && tk.work.promised_date) || tk.promised_at)}</td><td>${partsSummary(tk)}</td><td>${waitsFor(tk)}</td></tr>`)
          : html`<tr><td colspan="6" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div><//>`)}
  </div>`;
}

// ---- warehouse: replenishment → transfer, transfers to ship / receive --------------------------

const TRANSFER_STATES = ['pending_approval', 'waiting', 'allocated', 'shipped', 'received', 'cancelled'];
const TR_COLOR = { pending_approval: 'orange', waiting: 'gold', allocated: 'blue', shipped: 'geekblue', received: 'green', cancelled: 'default' };
const PARTS_WRITERS = ['admin', 'warehouse', 'center'];

function Suggestions({ me, onCreated }) {
  const [site, setSite] = useState(me.role === 'center' ? me.site : 'SH01');
  const [from, setFrom] = useState('WH01');
  const [items, setItems] = useState(null);
  const [pick, setPick] = useState({});
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const [busy, setBusy] = useState(false);
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null); setCreated(null);
    try {
      const r = (await api('GET', `/v1/parts/replenishment${qs({ site })}`)).items || [];
      setItems(r);
      const p = {};
      r.forEach((i) => { if (i.suggested_qty > 0) p[i.sku] = i.suggested_qty; });
      setPick(p);
    } catch (e) { setError(e); setItems([]); }
  }
  useEffect(() => { load(); }, []);
  const lines = Object.entries(pick).filter(([, q]) => Number(q) > 0).map(([sku, qty]) => ({ sku, qty: Number(qty) }));
  async function create() {
    setBusy(true); setError(null);
    try {
      const tr = await api('POST', '/v1/parts/transfers', { from, to: site, lines, note: t('tr.from_suggestion') });
      setCreated(tr); onCreated && onCreated(tr);
    } catch (e) { setError(e); }
    setBusy(false);
  }
  const shown = (items || []).filter((i) => i.suggested_qty > 0);
  return html`<${Card} title=${t('tr.suggest')}>
    <form class="filters" onSubmit=${load} id="sugg-filters">
      <${Field} name="sg.site" label=${t('tr.to')}><input ...${inputProps('sg.site')} value=${site} disabled=${me.role === 'center'} onInput=${(e) => setSite(e.target.value.trim().toUpperCase())} /><//>
      <${Field} name="sg.from" label=${t('tr.from')}><input ...${inputProps('sg.from')} value=${from} onInput=${(e) => setFrom(e.target.value.trim().toUpperCase())} /><//>
      <div class="filter-actions"><button class="btn" type="submit" id="sugg-search">${t('common.search')}</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${created ? html`<div class="alert alert-success" role="status" id="transfer-created">${t('tr.created', { id: created.id, state: t(`trs.${created.state}`) })}</div>` : null}
    <div class="table-card"><table class="table" id="sugg-table"><thead><tr><th>SKU</th><th>${t('stock.name')}</th><th class="num">${t('stock.available')}</th>
      <th class="num">${t('stock.inbound')}</th><th class="num">${t('tr.target')}</th><th class="num">${t('tr.suggested')}</th><th class="num">${t('tr.qty')}</th></tr></thead>
      <tbody>${items === null ? html`<tr><td colspan="7" class="empty">${t('common.loading')}</td></tr>`
        : shown.length ? shown.map((i) => html`<tr><td class="mono">${i.sku}</td><td>${i.name}${i.below_safety ? html` <${Tag} color="red">${t('stock.below')}<//>` : null}</td>
          <td class="num">${i.available}</td><td class="num">${i.inbound}</td><td class="num">${i.target}</td><td class="num">${i.suggested_qty}</td>
          <td class="num"><input class="qty-input" type="number" min="0" aria-label=${`${t('tr.qty')} ${i.sku}`} value=${pick[i.sku] ?? 0}
            onInput=${(e) => setPick({ ...pick, [i.sku]: e.target.value })} /></td></tr>`)
        : html`<tr><td colspan="7" class="empty">${t('tr.nothing')}</td></tr>`}</tbody></table></div>
    ${can(me, PARTS_WRITERS) && shown.length ? html`<div class="form-actions"><button class="btn btn-primary" type="button" id="create-transfer" disabled=${busy || !lines.length} onClick=${create}>
      ${t('tr.create', { n: lines.length })}</button></div>` : null}
  <//>`;
}

function ReceiveForm({ tr, onDone }) {
  const [q, setQ] = useState(Object.fromEntries((tr.lines || []).map((l) => [l.sku, { qty: l.qty, damaged: 0 }])));
  return html`<div class="receive-form">
    <table class="table"><thead><tr><th>SKU</th><th class="num">${t('tr.shipped')}</th><th class="num">${t('tr.received_ok')}</th><th class="num">${t('tr.damaged')}</th></tr></thead>
      <tbody>${(tr.lines || []).map((l) => html`<tr><td class="mono">${l.sku}</td><td class="num">${l.qty}</td>
        <td class="num"><input class="qty-input" type="number" min="0" id=${`rcv-${tr.id}-${l.sku}-qty`} aria-label=${`${t('tr.received_ok')} ${l.sku}`} value=${q[l.sku].qty} onInput=${(e) => setQ({ ...q, [l.sku]: { ...q[l.sku], qty: e.target.value } })} /></td>
        <td class="num"><input class="qty-input" type="number" min="0" id=${`rcv-${tr.id}-${l.sku}-damaged`} aria-label=${`${t('tr.damaged')} ${l.sku}`} value=${q[l.sku].damaged} onInput=${(e) => setQ({ ...q, [l.sku]: { ...q[l.sku], damaged: e.target.value } })} /></td></tr>`)}</tbody></table>
    <${PostButton} path=${`/v1/parts/transfers/${encodeURIComponent(tr.id)}/receive`} id=${`receive-${tr.id}`} label=${t('tr.receive')} onDone=${onDone}
      body=${{ lines: Object.entries(q).map(([sku, x]) => ({ sku, qty: Number(x.qty) || 0, damaged: Number(x.damaged) || 0 })) }} />
  </div>`;
}

const trMemory = { site: '', state: '' };
function Transfers({ me }) {
  const [site, setSite] = useState(trMemory.site);
  const [state, setState] = useState(trMemory.state);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState('');
  async function load(ev) {
    if (ev) ev.preventDefault();
    Object.assign(trMemory, { site, state });
    setError(null);
    try { setRows((await api('GET', `/v1/parts/transfers${qs({ site, state, limit: 50 })}`)).transfers || []); } catch (e) { setError(e); setRows([]); }
  }
  useEffect(() => { load(); }, []);
  const writer = can(me, PARTS_WRITERS);
  const acted = () => { setOpen(''); load(); };
  const act = (tr) => {
    if (!writer) return null;
    const p = (a) => `/v1/parts/transfers/${encodeURIComponent(tr.id)}/${a}`;
    return html`<div class="row-actions">
      ${tr.state === 'pending_approval' ? html`<${PostButton} path=${p('approve')} id=${`approve-${tr.id}`} label=${t('tr.approve')} onDone=${acted} />` : null}
      ${['allocated', 'waiting'].includes(tr.state) ? html`<${PostButton} path=${p('ship')} id=${`ship-${tr.id}`} label=${t('tr.ship')} onDone=${acted} />` : null}
      ${tr.state === 'shipped' ? html`<button type="button" class="btn btn-sm" id=${`open-receive-${tr.id}`} onClick=${() => setOpen(open === tr.id ? '' : tr.id)}>${t('tr.receive')}…</button>` : null}
      ${['pending_approval', 'waiting', 'allocated'].includes(tr.state) ? html`<${PostButton} path=${p('cancel')} body=${{ reason: 'cancelled at the console' }} id=${`cancel-${tr.id}`} label=${t('common.cancel')} danger=${true} onDone=${acted} />` : null}
    </div>`;
  };
  return html`<div class="page"><div class="page-head"><h1>${t('tr.title')}</h1></div>
    <${Suggestions} me=${me} onCreated=${() => load()} />
    <${Card} title=${t('tr.list')}>
      <form class="filters" onSubmit=${load} id="tr-filters">
        <${Field} name="tr.site" label=${t('stock.site')}><input ...${inputProps('tr.site')} value=${site} placeholder=${me.site || ''} onInput=${(e) => setSite(e.target.value.trim().toUpperCase())} /><//>
        <${Field} name="tr.state" label=${t('col.state')}><select ...${inputProps('tr.state')} value=${state} onChange=${(e) => setState(e.target.value)}>
          <option value="">${t('queue.all')}</option>${TRANSFER_STATES.map((s) => html`<option value=${s}>${t(`trs.${s}`)}</option>`)}</select><//>
        <div class="filter-actions"><button class="btn btn-primary" type="submit" id="tr-search">${t('common.search')}</button></div>
      </form>
      <${ErrorBox} error=${error} />
      <div class="table-card"><table class="table" id="transfers-table"><thead><tr><th>${t('tr.id')}</th><th>${t('tr.from')} → ${t('tr.to')}</th><th>${t('tr.lines')}</th>
        <th>${t('col.state')}</th><th>${t('tr.when')}</th><th></th></tr></thead>
        <tbody>${rows === null ? html`<tr><td colspan="6" class="empty">${t('common.loading')}</td></tr>`
          : rows.length ? rows.map((tr) => html`<tr id=${`tr-${tr.id}`}><td class="mono">${tr.id}${tr.ticket_id ? html`<div class="muted">${tr.ticket_id}</div>` : null}</td>
            <td class="mono">${tr.from} → ${tr.to}</td>
            <td>${(tr.lines || []).map((l) => html`<div class="mono">${l.sku}×${l.qty}</div>`)}</td>
            <td><${Tag} color=${TR_COLOR[tr.state]}>${t(`trs.${tr.state}`)}<//>${(tr.discrepancies || []).length ? html`<div class="warn-text">${t('tr.discrepancy')}: ${tr.discrepancies.map((d) => `${d.sku} −${(d.damaged || 0) + (d.missing || 0)}`).join(', ')}</div>` : null}
              ${tr.approval_reason ? html`<div class="muted">${tr.approval_reason}</div>` : null}</td>
            <td>${fmtTime(tr.received_at || tr.shipped_at || tr.created_at)}</td>
            <td>${act(tr)}${open === tr.id ? html`<${ReceiveForm} tr=${tr} onDone=${acted} />` : null}</td></tr>`)
          : html`<tr><td colspan="6" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div>
    <//>
  </div>`;
}

// ---- warehouse: defective returns and loaners ------------------------------------------------

function Returns({ me }) {
  const [status, setStatus] = useState('owed');
  const [site, setSite] = useState('');
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    try { setRows((await api('GET', `/v1/parts/returns${qs({ status, site, limit: 100 })}`)).returns || []); } catch (e) { setError(e); setRows([]); }
  }
  useEffect(() => { load(); }, []);
  const receiver = can(me, ['admin', 'warehouse']);
  return html`<div class="page"><div class="page-head"><h1>${t('ret.title')}</h1></div>
    <form class="card filter-bar" onSubmit=${load} id="ret-filters"><div class="filters">
      <${Field} name="ret.status" label=${t('col.state')}><select ...${inputProps('ret.status')} value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">${t('queue.all')}</option>${['owed', 'overdue', 'returned'].map((s) => html`<option value=${s}>${t(`ret.${s}`)}</option>`)}</select><//>
      <${Field} name="ret.site" label=${t('stock.site')}><input ...${inputProps('ret.site')} value=${site} onInput=${(e) => setSite(e.target.value.trim().toUpperCase())} /><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="ret-search">${t('common.search')}</button></div></div></form>
    <p class="hint">${t('ret.hint')}</p>
    <${ErrorBox} error=${error} />
    <div class="card table-card"><table class="table" id="returns-table"><thead><tr><th>${t('ret.id')}</th><th>${t('col.id')}</th><th>SKU</th><th class="num">${t('tr.qty')}</th>
      <th>${t('stock.site')}</th><th>${t('fin.manufacturer')}</th><th>${t('ret.due')}</th><th>${t('col.state')}</th><th></th></tr></thead>
      <tbody>${rows === null ? html`<tr><td colspan="9" class="empty">${t('common.loading')}</td></tr>`
        : rows.length ? rows.map((r) => html`<tr><td class="mono">${r.id}</td><td class="mono">${r.ticket_id}</td><td class="mono">${r.sku}</td><td class="num">${r.qty}</td>
          <td>${r.site}</td><td>${r.manufacturer || '—'}</td><td class=${r.status === 'overdue' ? 'overdue' : ''}>${fmtDate(r.due_date)}</td>
          <td><${Tag} color=${r.status === 'returned' ? 'green' : r.status === 'overdue' ? 'red' : 'gold'}>${t(`ret.${r.status}`)}<//>${r.returned_at ? html`<div class="muted">${fmtTime(r.returned_at)}</div>` : null}</td>
          <td>${receiver && r.status !== 'returned' ? html`<${PostButton} path=${`/v1/parts/returns/${encodeURIComponent(r.id)}/receive`} id=${`ret-receive-${r.id}`} label=${t('ret.receive')} onDone=${() => load()} />` : null}</td></tr>`)
        : html`<tr><td colspan="9" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div></div>`;
}

function Loaners({ me }) {
  const [site, setSite] = useState(me.role === 'center' ? me.site : '');
  const [state, setState] = useState('');
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [lend, setLend] = useState('');
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    try { setRows((await api('GET', `/v1/parts/loaners${qs({ site, state })}`)).loaners || []); } catch (e) { setError(e); setRows([]); }
  }
  useEffect(() => { load(); }, []);
  const writer = can(me, PARTS_WRITERS);
  const done = () => { setLend(''); load(); };
  return html`<div class="page"><div class="page-head"><h1>${t('loan.title')}</h1></div>
    <form class="card filter-bar" onSubmit=${load} id="loan-filters"><div class="filters">
      <${Field} name="loan.site" label=${t('stock.site')}><input ...${inputProps('loan.site')} value=${site} onInput=${(e) => setSite(e.target.value.trim().toUpperCase())} /><//>
      <${Field} name="loan.state" label=${t('col.state')}><select ...${inputProps('loan.state')} value=${state} onChange=${(e) => setState(e.target.value)}>
        <option value="">${t('queue.all')}</option>${['available', 'lent'].map((s) => html`<option value=${s}>${t(`loan.${s}`)}</option>`)}</select><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="loan-search">${t('common.search')}</button></div></div></form>
    <p class="hint">${t('loan.hint')}</p>
    <${ErrorBox} error=${error} />
    <div class="card table-card"><table class="table" id="loaners-table"><thead><tr><th>${t('loan.serial')}</th><th>${t('stock.site')}</th><th>${t('f.device.model')}</th>
      <th>${t('col.state')}</th><th>${t('loan.holder')}</th><th class="num">${t('loan.days')}</th><th></th></tr></thead>
      <tbody>${rows === null ? html`<tr><td colspan="7" class="empty">${t('common.loading')}</td></tr>`
        : rows.length ? rows.map((l) => html`<tr id=${`loaner-${l.serial}`}><td class="mono">${l.serial}</td><td>${l.site}</td><td>${l.model || l.sku || '—'}</td>
          <td><${Tag} color=${l.state === 'lent' ? 'orange' : 'green'}>${t(`loan.${l.state}`) !== `loan.${l.state}` ? t(`loan.${l.state}`) : l.state}<//></td>
          <td>${l.ticket_id ? html`<a class="mono" href=${`#/tickets/${l.ticket_id}`}>${l.ticket_id}</a><div class="muted">${l.customer || ''} ${l.phone || ''}</div>` : '—'}</td>
          <td class="num">${l.state === 'lent' ? l.days_out ?? 0 : '—'}</td>
          <td>${writer && l.state === 'lent' ? html`<${PostButton} path=${`/v1/parts/loaners/${encodeURIComponent(l.serial)}/return`} id=${`loan-return-${l.serial}`} label=${t('loan.return')} onDone=${done} />` : null}
            ${writer && l.state !== 'lent' ? html`<button type="button" class="btn btn-sm" id=${`loan-open-${l.serial}`} onClick=${() => setLend(lend === l.serial ? '' : l.serial)}>${t('loan.lend')}…</button>` : null}
            ${lend === l.serial ? html`<${MiniForm} path=${`/v1/parts/loaners/${encodeURIComponent(l.serial)}/lend`} formId="lend" submitLabel=${t('loan.lend')} onDone=${done}
              fields=${[{ name: 'ticket_id', label: 'col.id' }, { name: 'customer', label: 'f.customer.name' }, { name: 'phone', label: 'f.customer.phone', type: 'tel' }]}
              build=${(v, e) => { if (!v.ticket_id) e.ticket_id = t('v.required', { field: t('col.id') }); return { ticket_id: (v.ticket_id || '').trim(), customer: v.customer || undefined, phone: v.phone || undefined }; }} />` : null}</td></tr>`)
        : html`<tr><td colspan="7" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div></div>`;
}

// ---- call-back desk: today's callbacks, the script and the score form ------------------------

const DIMS = ['attitude', 'repair_quality', 'timeliness', 'price', 'facilities'];
function CallbackRow({ cb, me, onDone }) {
  const [open, setOpen] = useState(false);
  const p = (a) => `/v1/surveys/callbacks/${encodeURIComponent(cb.id)}/${a}`;
  const score = [['', '—'], ...[5, 4, 3, 2, 1].map((n) => [String(n), String(n)])];
  return html`<tr id=${`cb-${cb.id}`}><td class="mono">${cb.id}<div class="muted">${fmtDate(cb.due_date)}</div></td>
    <td><a class="mono" href=${`#/tickets/${cb.ticket_id}`}>${cb.ticket_id}</a>${me.role !== 'center' ? html`<div class="muted">${cb.center}</div>` : null}</td>
    <td>${cb.customer_name || '—'}<div class="muted">${cb.customer_phone || ''}</div></td>
    <td>${cb.brand || ''} ${cb.category ? t(`cat.${cb.category}`) : ''}<div class="muted">${cb.outcome ? t(`outcome.${cb.outcome}`) : ''}</div></td>
    <td class="num">${cb.attempts || 0} / ${cb.max_attempts || '—'}</td>
    <td><button type="button" class="btn btn-sm btn-primary" id=${`call-${cb.id}`} onClick=${() => setOpen(!open)}>${t('cb.call')}</button>
      ${open ? html`<div class="call-panel">
        <blockquote class="script" id="call-script">${t('cb.script', { name: cb.customer_name || '', center: cb.center || '', brand: cb.brand || '', ticket: cb.ticket_id })}</blockquote>
        <${MiniForm} path=${p('answer')} formId="answer" submitLabel=${t('cb.save')} onDone=${onDone}
          fields=${[...DIMS.map((d) => ({ name: d, label: `cb.${d}`, options: score })), { name: 'nps', label: 'cb.nps', options: [['', '—'], ...[10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((n) => [String(n), String(n)])] },
            { name: 'comment', label: 'cb.comment' }]}
          build=${(v, e) => { const b = { comment: v.comment || undefined };
            for (const d of DIMS) { if (!v[d]) e[d] = t('v.required', { field: t(`cb.${d}`) }); else b[d] = Number(v[d]); }
            if (v.nps !== undefined && v.nps !== '') b.nps = Number(v.nps);
            return b; }} />
        <div class="row-actions"><${PostButton} path=${p('unreachable')} id=${`unreachable-${cb.id}`} label=${t('cb.unreachable')} onDone=${onDone} />
          <${PostButton} path=${p('refuse')} id=${`refuse-${cb.id}`} label=${t('cb.refuse')} danger=${true} onDone=${onDone} /></div>
      </div>` : null}</td></tr>`;
}

function Callbacks({ me }) {
  const [date, setDate] = useState(today());
  const [center, setCenter] = useState('');
  const [rows, setRows] = useState(null);
  const [proactive, setProactive] = useState(null);
  const [error, setError] = useState(null);
  const [msg, setMsg] = useState('');
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    if (!dateOk(date)) { setError(new ApiError(400, 'bad', t('v.date'))); return; }
    try {
      const r = await api('GET', `/v1/surveys/due${qs({ date, center, limit: 200 })}`);
      setRows(r.callbacks || []); setProactive(r.proactive || []);
    } catch (e) { setError(e); setRows([]); setProactive([]); }
  }
  useEffect(() => { load(); }, []);
  const done = (cb) => {
    const r = cb && cb.response;
    setMsg(r ? t('cb.saved', { id: cb.id, score: r.weighted_score ?? '—' }) + (r.complaint_id ? ` ${t('cb.complaint', { id: r.complaint_id })}` : '') : t('cb.recorded', { id: cb.id }));
    load();
  };
  return html`<div class="page"><div class="page-head"><h1>${t('cb.title')}</h1></div>
    <form class="card filter-bar" onSubmit=${load} id="cb-filters"><div class="filters">
      <${Field} name="cb.date" label=${t('cb.date')}><input ...${inputProps('cb.date')} value=${date} inputmode="numeric" onInput=${(e) => setDate(e.target.value.trim())} /><//>
      ${me.role !== 'center' ? html`<${Field} name="cb.center" label=${t('col.center')}><input ...${inputProps('cb.center')} value=${center} onInput=${(e) => setCenter(e.target.value.trim().toUpperCase())} /><//>` : null}
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="cb-search">${t('common.search')}</button></div></div></form>
    ${msg ? html`<div class="alert alert-success" role="status" id="cb-msg">${msg}</div>` : null}
    <${ErrorBox} error=${error} />
    <div class="card table-card"><table class="table" id="callbacks-table"><thead><tr><th>${t('cb.id')}</th><th>${t('col.id')}</th><th>${t('col.customer')}</th>
      <th>${t('col.device')}</th><th class="num">${t('cb.attempts')}</th><th></th></tr></thead>
      <tbody>${rows === null ? html`<tr><td colspan="6" class="empty">${t('common.loading')}</td></tr>`
        : rows.length ? rows.map((cb) => html`<${CallbackRow} key=${cb.id} cb=${cb} me=${me} onDone=${done} />`)
        : html`<tr><td colspan="6" class="empty">${t('cb.none')}</td></tr>`}</tbody></table></div>
    <${ProactiveCalls} me=${me} rows=${proactive} onDone=${(pc) => { setMsg(t('pc.recorded', { id: pc.id })); load(); }} /></div>`;
}

// ---- complaints board: by deadline, time left, escalation -------------------------------------

const SEV_COLOR = { general: 'blue', serious: 'orange', critical: 'red' };
const CHANNELS = ['walk_in', 'phone', 'online', 'manufacturer', 'hotline_12315', 'operator', 'media', 'government'];
const CAUSES = ['attitude', 'repair_quality', 'overdue', 'parts_unavailable', 'price', 'other'];
// The next deadline not met yet (the one that counts on the board).
function nextDeadline(c) {
  const open = (c.deadlines || []).filter((d) => !d.met_at && d.due_at).sort((a, b) => a.due_at.localeCompare(b.due_at));
  return open[0] || null;
}
function timeLeft(due) {
  const ms = new Date(due).getTime() - Date.now();
  const h = Math.floor(Math.abs(ms) / 36e5), m = Math.floor((Math.abs(ms) % 36e5) / 6e4);
  const span = h >= 48 ? t('cp.days', { n: Math.floor(h / 24) }) : t('cp.hm', { h, m });
  return ms < 0 ? t('cp.overdue_by', { span }) : t('cp.left', { span });
}
function DeadlineCell({ c }) {
  const d = nextDeadline(c);
  if (!d) return html`<span class="muted">${c.state === 'closed' || c.state === 'resolved' ? t('cp.all_met') : '—'}</span>`;
  const late = new Date(d.due_at).getTime() < Date.now() || d.breached;
  return html`<div class=${late ? 'overdue' : ''}><strong>${t(`cp.dl.${d.kind}`)}</strong> ${fmtTime(d.due_at)}<div>${timeLeft(d.due_at)}</div></div>`;
}

function NewComplaint({ ticket, onDone }) {
  return html`<${Card} title=${t('cp.new')} cls="new-complaint">
    <${MiniForm} path="/v1/complaints" formId="complaint" submitLabel=${t('cp.open')} onDone=${onDone} initial=${{ ticket_id: ticket || '', channel: 'walk_in', cause: 'attitude' }}
      fields=${[{ name: 'ticket_id', label: 'col.id' }, { name: 'channel', label: 'cp.channel', options: CHANNELS.map((c) => [c, t(`ch.${c}`)]) },
        { name: 'cause', label: 'cp.cause', options: CAUSES.map((c) => [c, t(`cause.${c}`)]) }, { name: 'description', label: 'cp.description', area: true },
        { name: 'customer_name', label: 'f.customer.name' }, { name: 'customer_phone', label: 'f.customer.phone', type: 'tel' }]}
      build=${(v, e) => { if (!String(v.description || '').trim()) e.description = t('v.required', { field: t('cp.description') });
        return { ticket_id: (v.ticket_id || '').trim() || undefined, channel: v.channel, cause: v.cause, description: (v.description || '').trim(),
          customer_name: v.customer_name || undefined, customer_phone: v.customer_phone || undefined }; }} />
  <//>`;
}

function ComplaintDetail({ me, id }) {
  const { data: c, error, reload } = useGet(`/v1/complaints/${encodeURIComponent(id)}`, [id]);
  if (error) return html`<div class="page"><div class="result" id="not-found"><h1>${t('err.notfound')}</h1><p>${errText(error)}</p><a class="btn" href="#/complaints">${t('common.back')}</a></div></div>`;
  if (!c) return html`<div class="page"><p class="muted">${t('common.loading')}</p></div>`;
  const p = (a) => `/v1/complaints/${encodeURIComponent(c.id)}/${a}`;
  const desk = can(me, DESK);
  return html`<div class="page"><div class="page-head"><h1><span class="mono" id="complaint-id">${c.id}</span>
      <${Tag} color=${SEV_COLOR[c.severity]}>${t(`sev.${c.severity}`)}<//> <${Tag} color=${c.state === 'closed' ? 'default' : c.overdue ? 'red' : 'blue'}>${t(`cps.${c.state}`)}<//></h1>
      <a class="btn" href="#/complaints">${t('common.back')}</a></div>
    <div class="grid2">
      <${Card} title=${t('cp.facts')}><${Desc} items=${[[t('col.center'), c.center], [t('col.id'), c.ticket_id ? html`<a class="mono" href=${`#/tickets/${c.ticket_id}`}>${c.ticket_id}</a>` : '—'],
        [t('cp.channel'), t(`ch.${c.channel}`)], [t('cp.cause'), t(`cause.${c.cause}`)], [t('cp.description'), c.description],
        [t('col.customer'), `${c.customer_name || ''} ${c.customer_phone || ''}`], [t('cp.level'), `${t(`lvl.${c.level}`)} · ${c.owner || ''}`],
        [t('cp.escalations'), String(c.escalations || 0)], c.resolution ? [t('cp.resolution'), c.resolution] : null, c.report ? [t('cp.report'), c.report] : null]} /><//>
      <${Card} title=${t('cp.deadlines')}><table class="table" id="deadlines"><thead><tr><th>${t('cp.kind')}</th><th>${t('cp.due')}</th><th>${t('col.state')}</th></tr></thead>
        <tbody>${(c.deadlines || []).map((d) => { const late = !d.met_at && (d.breached || new Date(d.due_at).getTime() < Date.now());
          return html`<tr class=${late ? 'overdue' : ''}><td>${t(`cp.dl.${d.kind}`)}</td><td>${fmtTime(d.due_at)}</td>
          <td>${d.met_at ? html`<${Tag} color="green">${t('cp.met')} ${fmtTime(d.met_at)}<//>` : html`${timeLeft(d.due_at)}${d.escalations ? html` · ${t('cp.escalated_n', { n: d.escalations })}` : null}`}</td></tr>`; })}</tbody></table><//>
    </div>
    ${desk && c.state !== 'closed' ? html`<div class="card actions" id="complaint-actions">
      ${c.state === 'open' ? html`<${MiniForm} path=${p('acknowledge')} formId="acknowledge" submitLabel=${t('cp.acknowledge')} onDone=${reload} fields=${[{ name: 'note', label: 'f.note' }]} />` : null}
      ${c.state === 'acknowledged' ? html`<${MiniForm} path=${p('resolve')} formId="resolve" submitLabel=${t('cp.resolve')} onDone=${reload} fields=${[{ name: 'resolution', label: 'cp.resolution', area: true }]} />` : null}
      ${c.state === 'resolved' ? html`<${MiniForm} path=${p('close')} formId="close" submitLabel=${t('cp.close')} onDone=${reload}
        fields=${[{ name: 'followup_outcome', label: 'cp.followup', options: [['', '—'], ...['satisfied', 'unsatisfied', 'unreachable'].map((x) => [x, t(`fu.${x}`)])] }, { name: 'note', label: 'f.note' }]} />` : null}
      ${(c.deadlines || []).some((d) => d.kind === 'report' && !d.met_at) ? html`<${MiniForm} path=${p('report')} formId="report" submitLabel=${t('cp.file_report')} onDone=${reload} fields=${[{ name: 'report', label: 'cp.report', area: true }]} />` : null}
    </div>` : null}
    <${Card} title=${t('ticket.timeline')}><ol class="timeline">${(c.history || []).map((e) => html`<li><span class="tl-time">${fmtTime(e.at)}</span>
      <span class="tl-event">${e.event}${e.to_level ? ` → ${t(`lvl.${e.to_level}`)}` : ''}</span><span class="muted">${e.actor || ''}${e.note ? ` — ${e.note}` : ''}</span></li>`)}</ol><//>
  </div>`;
}

function Complaints({ me, ticket }) {
  const [state, setState] = useState('');
  const [severity, setSeverity] = useState('');
  const [onlyOverdue, setOnlyOverdue] = useState(false);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [msg, setMsg] = useState('');
  async function load(ev) {
    if (ev) ev.preventDefault();
    setError(null);
    try {
      const r = onlyOverdue ? await api('GET', `/v1/complaints/overdue${qs({ limit: 100 })}`) : await api('GET', `/v1/complaints${qs({ state, severity, limit: 100 })}`);
      const list = r.complaints || [];
      // The board's order: the nearest unmet deadline first (overdue at the top), then the rest.
      list.sort((a, b) => { const x = nextDeadline(a), y = nextDeadline(b); return x && y ? x.due_at.localeCompare(y.due_at) : x ? -1 : y ? 1 : 0; });
      setRows(list);
    } catch (e) { setError(e); setRows([]); }
  }
  useEffect(() => { load(); }, []);
  return html`<div class="page"><div class="page-head"><h1>${t('cp.title')}</h1></div>
    ${can(me, DESK) ? html`<${NewComplaint} ticket=${ticket} onDone=${(c) => { setMsg(t('cp.opened', { id: c.id })); load(); }} />` : null}
    ${msg ? html`<div class="alert alert-success" role="status" id="cp-msg">${msg}</div>` : null}
    <form class="card filter-bar" onSubmit=${load} id="cp-filters"><div class="filters">
      <${Field} name="cp.state" label=${t('col.state')}><select ...${inputProps('cp.state')} value=${state} onChange=${(e) => setState(e.target.value)}>
        <option value="">${t('queue.all')}</option>${['open', 'acknowledged', 'resolved', 'closed'].map((s) => html`<option value=${s}>${t(`cps.${s}`)}</option>`)}</select><//>
      <${Field} name="cp.severity" label=${t('cp.severity')}><select ...${inputProps('cp.severity')} value=${severity} onChange=${(e) => setSeverity(e.target.value)}>
        <option value="">${t('queue.all')}</option>${['general', 'serious', 'critical'].map((s) => html`<option value=${s}>${t(`sev.${s}`)}</option>`)}</select><//>
      <div class="field"><label class="check check-aligned"><input type="checkbox" id="f-cp-overdue" checked=${onlyOverdue} onChange=${(e) => setOnlyOverdue(e.target.checked)} /> ${t('cp.only_overdue')}</label></div>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="cp-search">${t('common.search')}</button></div></div></form>
    <${ErrorBox} error=${error} />
    <div class="card table-card"><table class="table" id="complaints-table"><thead><tr><th>${t('cp.id')}</th><th>${t('cp.severity')}</th><th>${t('col.state')}</th>
      <th>${t('cp.cause')}</th><th>${t('cp.next_deadline')}</th><th>${t('cp.level')}</th><th>${t('col.customer')}</th></tr></thead>
      <tbody>${rows === null ? html`<tr><td colspan="7" class="empty">${t('common.loading')}</td></tr>`
        : rows.length ? rows.map((c) => html`<tr class=${c.overdue ? 'row-overdue' : ''} id=${`cp-${c.id}`}><td><a class="mono" href=${`#/complaints/${c.id}`}>${c.id}</a>
            <div class="muted">${c.center}${c.ticket_id ? ` · ${c.ticket_id}` : ''}</div></td>
          <td><${Tag} color=${SEV_COLOR[c.severity]}>${t(`sev.${c.severity}`)}<//></td>
          <td><${Tag} color=${c.overdue ? 'red' : c.state === 'closed' ? 'default' : 'blue'}>${t(`cps.${c.state}`)}<//>${c.overdue ? html`<div class="overdue">${t('cp.is_overdue')}</div>` : null}</td>
          <td>${t(`cause.${c.cause}`)}<div class="muted">${t(`ch.${c.channel}`)}</div></td>
          <td><${DeadlineCell} c=${c} /></td>
          <td>${t(`lvl.${c.level}`)}${c.escalations ? html` <${Tag} color="red">↑${c.escalations}<//>` : null}<div class="muted">${c.owner || ''}</div></td>
          <td>${c.customer_name || '—'}<div class="muted">${c.customer_phone || ''}</div></td></tr>`)
        : html`<tr><td colspan="7" class="empty">${t('common.none')}</td></tr>`}</tbody></table></div></div>`;
}

// ---- the price list: settlement's rate tables in force on a date ------------------------------

const pricesMemory = { date: '' };
function Prices({ me }) {
  const [date, setDate] = useState(pricesMemory.date || today());
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  async function load(ev) {
    if (ev) ev.preventDefault();
    pricesMemory.date = date;
    setError(null);
    try { setData(await api('GET', `/v1/settlement/rates${qs({ date })}`)); } catch (e) { setError(e); setData(null); }
  }
  useEffect(() => { load(); }, []);
  const fin = can(me, ['admin', 'finance']);
  const any = (c) => (c === '*' ? t('price.any') : c);
  const rows = (list, cols, row) => (!data ? html`<tr><td colspan=${cols} class="empty">${error ? '—' : t('common.loading')}</td></tr>`
    : list.length ? list.map(row) : html`<tr><td colspan=${cols} class="empty">${t('common.none')}</td></tr>`);
  return html`<${Card} title=${t('net.prices')} extra=${data ? html`<span class="muted" id="vat-rate">${t('price.vat', { rate: ((data.vat_rate_bp || 0) / 100).toFixed(0), date: fmtDate(data.date) })}</span>` : null}>
    <form class="filters" onSubmit=${load} id="price-filters">
      <${Field} name="pr.date" label=${t('price.date')} error=${error && error.status === 400 ? errText(error) : null}>
        <input ...${inputProps('pr.date', error && error.status === 400)} value=${date} inputmode="numeric" onInput=${(e) => setDate(e.target.value.trim())} /><//>
      <div class="filter-actions"><button class="btn btn-primary" type="submit" id="price-search">${t('common.search')}</button></div>
    </form>
    ${error && error.status !== 400 ? html`<${ErrorBox} error=${error} />` : null}
    <p class="hint">${t(fin ? 'price.hint_fin' : 'price.hint')}</p>
    <h3>${t('price.labour')}</h3>
    <div class="table-card"><table class="table" id="labour-table"><thead><tr><th>${t('f.labour_code')}</th><th>${t('stock.name')}</th><th>${t('f.device.category')}</th>
      <th>${t('fin.manufacturer')}</th><th class="num">${t('price.flat')}</th><th class="num">${t('price.hour')}</th>${fin ? html`<th class="num">${t('price.claim')}</th>` : null}<th>${t('price.from')}</th></tr></thead>
      <tbody>${rows((data && data.labour) || [], fin ? 8 : 7, (r) => html`<tr><td class="mono">${r.labour_code}</td><td>${r.description}</td><td>${any(r.category)}</td><td>${any(r.manufacturer)}</td>
        <td class="num">${fmtMoney(r.list_flat_cents || 0)}</td><td class="num">${fmtMoney(r.list_hour_cents || 0)}</td>
        ${fin ? html`<td class="num">${fmtMoney(r.claim_flat_cents || 0)} + ${fmtMoney(r.claim_hour_cents || 0)}/h</td>` : null}<td>${fmtDate(r.effective_from)}</td></tr>`)}</tbody></table></div>
    <h3>${t('price.parts')}</h3>
    <div class="table-card"><table class="table" id="prices-table"><thead><tr><th>SKU</th><th>${t('stock.name')}</th><th>${t('fin.manufacturer')}</th><th class="num">${t('net.list_price')}</th>
      ${fin ? html`<th class="num">${t('net.unit_cost')}</th>` : null}<th>${t('net.defective')}</th><th>${t('price.from')}</th></tr></thead>
      <tbody>${rows((data && data.parts) || [], fin ? 7 : 6, (r) => html`<tr><td class="mono">${r.sku}</td><td>${r.description}</td><td>${r.manufacturer || '—'}</td><td class="num">${fmtMoney(r.list_cents || 0)}</td>
        ${fin ? html`<td class="num">${fmtMoney(r.cost_cents || 0)}</td>` : null}<td>${r.return_required ? t('common.yes') : t('common.no')}</td><td>${fmtDate(r.effective_from)}</td></tr>`)}</tbody></table></div>
    <h3>${t('price.fees')}</h3>
    <div class="table-card"><table class="table" id="fees-table"><thead><tr><th>${t('price.fee')}</th><th>${t('stock.name')}</th><th>${t('f.device.category')}</th><th>${t('price.applies')}</th>
      <th class="num">${t('net.list_price')}</th>${fin ? html`<th class="num">${t('price.claim')}</th>` : null}<th>${t('price.from')}</th></tr></thead>
      <tbody>${rows((data && data.fees) || [], fin ? 7 : 6, (r) => html`<tr><td class="mono">${r.fee_code}</td><td>${r.description}</td><td>${any(r.category)}</td><td>${t(`price.applies_${r.applies}`)}</td>
        <td class="num">${r.list_cents === undefined ? '—' : fmtMoney(r.list_cents)}</td>${fin ? html`<td class="num">${r.claim_cents === undefined ? '—' : fmtMoney(r.claim_cents)}</td>` : null}<td>${fmtDate(r.effective_from)}</td></tr>`)}</tbody></table></div>
    <${PriceListMore} me=${me} data=${data} onDone=${() => load()} />
  <//>`;
}

function PricesPage({ me }) {
  return html`<div class="page"><div class="page-head"><h1>${t('nav.prices')}</h1></div><${Prices} me=${me} /></div>`;
}

// ---- network administration: centres, regions, brands, the price list ------------------------

function Network({ me }) {
  const centers = useGet('/v1/centers');
  const regions = useGet('/v1/regions');
  const brands = useGet('/v1/brands');
  const admin = me.role === 'admin';
  const [msg, setMsg] = useState('');
  const okMsg = (k, reload) => (r) => { setMsg(t(k, { id: r.code || r.name || '' })); reload(); };
  const rows = (x, key) => (x.data && x.data[key]) || null;
  const body = (x, key, cols, row) => html`<tbody>${x.error ? html`<tr><td colspan=${cols} class="empty"><${ErrorBox} error=${x.error} /></td></tr>`
    : !rows(x, key) ? html`<tr><td colspan=${cols} class="empty">${t('common.loading')}</td></tr>`
    : rows(x, key).length ? rows(x, key).map(row) : html`<tr><td colspan=${cols} class="empty">${t('common.none')}</td></tr>`}</tbody>`;
  return html`<div class="page"><div class="page-head"><h1>${t('net.title')}</h1></div>
    ${msg ? html`<div class="alert alert-success" role="status" id="net-msg">${msg}</div>` : null}
    <${Card} title=${t('net.centers')}>
      <div class="table-card"><table class="table" id="centers-table"><thead><tr><th>${t('net.code')}</th><th>${t('net.name')}</th><th>${t('users.region')}</th>
        <th>${t('net.address')}</th><th>${t('net.brands')}</th><th>${t('col.state')}</th></tr></thead>
        ${body(centers, 'centers', 6, (c) => html`<tr><td class="mono">${c.code}</td><td>${c.name}</td><td>${c.region}</td><td>${c.address || '—'}<div class="muted">${c.phone || ''} ${c.hours || ''}</div></td>
          <td>${(c.brands || []).join(', ') || '—'}</td><td><${Tag} color=${c.state === 'open' ? 'green' : c.state === 'suspended' ? 'orange' : 'default'}>${t(`cst.${c.state}`)}<//></td></tr>`)}</table></div>
      ${can(me, ['admin', 'region']) ? html`<details class="add-form"><summary id="add-center">${t('net.open_center')}</summary>
        <${MiniForm} path="/v1/centers" formId="center" submitLabel=${t('net.open_center')} onDone=${okMsg('net.saved', centers.reload)}
          fields=${[{ name: 'code', label: 'net.code', placeholder: 'SH03' }, { name: 'name', label: 'net.name' }, { name: 'region', label: 'users.region', placeholder: me.region || 'east' },
            { name: 'address', label: 'net.address' }, { name: 'phone', label: 'f.customer.phone' }]} /></details>` : null}
    <//>
    <div class="grid2">
      <${Card} title=${t('net.regions')}>
        <table class="table" id="regions-table"><thead><tr><th>${t('net.code')}</th><th>${t('net.name')}</th></tr></thead>
          ${body(regions, 'regions', 2, (r) => html`<tr><td class="mono">${r.code}</td><td>${r.name}</td></tr>`)}</table>
        ${admin ? html`<details class="add-form"><summary id="add-region">${t('net.add_region')}</summary>
          <${MiniForm} path="/v1/regions" formId="region" submitLabel=${t('common.save')} onDone=${okMsg('net.saved', regions.reload)}
            fields=${[{ name: 'code', label: 'net.code' }, { name: 'name', label: 'net.name' }]} /></details>` : null}
      <//>
      <${Card} title=${t('net.brands')}>
        <table class="table" id="brands-table"><thead><tr><th>${t('f.device.brand')}</th><th>${t('fin.manufacturer')}</th><th>${t('net.models')}</th></tr></thead>
          ${body(brands, 'brands', 3, (b) => html`<tr><td>${b.name}</td><td>${b.manufacturer || '—'}</td><td>${(b.models || []).join(', ') || '—'}</td></tr>`)}</table>
        ${admin ? html`<details class="add-form"><summary id="add-brand">${t('net.add_brand')}</summary>
          <${MiniForm} path="/v1/brands" formId="brand" submitLabel=${t('common.save')} onDone=${okMsg('net.saved', brands.reload)}
            fields=${[{ name: 'name', label: 'f.device.brand' }, { name: 'manufacturer', label: 'fin.manufacturer' }, { name: 'models', label: 'net.models', placeholder: 'HX-10, HX-20' }]}
            build=${(v) => ({ name: v.name, manufacturer: v.manufacturer, models: String(v.models || '').split(/[,，]/).map((x) => x.trim()).filter(Boolean) })} /></details>` : null}
      <//>
    </div>
    <${Prices} me=${me} />
  </div>`;
}

function Home({ me }) {
  return html`<div class="page"><div class="result"><h1>${t('home.welcome', { name: me.display_name || me.login })}</h1><p class="muted">${t('home.none')}</p></div></div>`;
}

// ---- the app ---------------------------------------------------------------------------------

function App() {
  const [me, setMe] = useState(undefined); // undefined: asking; null: signed out
  const [route, setRoute] = useState(parseRoute());
  const [, setLangTick] = useState(0);
  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    const onLang = () => setLangTick((n) => n + 1);
    window.addEventListener('hashchange', onHash);
    window.addEventListener('as-lang', onLang);
    api('GET', '/v1/auth/me').then(setMe, () => setMe(null));
    return () => { window.removeEventListener('hashchange', onHash); window.removeEventListener('as-lang', onLang); };
  }, []);
  if (me === undefined) return html`<div class="boot muted">${t('common.loading')}</div>`;
  if (!me) return html`<${Login} onIn=${(m) => { setMe(m); setRoute(parseRoute()); }} />`;
  const menu = menuFor(me);
  const allowed = (name) => menu.some((m) => m.key === name);
  let screen;
  const r = route;
  const more = moreScreen(me, r, allowed) || finScreen(me, r, allowed);
  if (more && more.bare) return more.bare;
  if (r.name === 'print' && can(me, READERS)) return html`<${PrintDoc} me=${me} kind=${r.arg} id=${r.arg2} />`;
  if (more) screen = more.screen;
  else if (r.name === 'tickets' && r.arg && can(me, READERS)) screen = html`<${Ticket} me=${me} id=${r.arg} />`;
  else if (r.name === 'intake' && allowed('intake')) screen = html`<${Intake} />`;
  else if (r.name === 'users' && allowed('users')) screen = html`<${Users} />`;
  else if (r.name === 'workshop' && allowed('workshop')) screen = html`<${Workshop} me=${me} />`;
  else if (r.name === 'transfers' && allowed('transfers')) screen = html`<${Transfers} me=${me} />`;
  else if (r.name === 'returns' && allowed('returns')) screen = html`<${Returns} me=${me} />`;
  else if (r.name === 'loaners' && allowed('loaners')) screen = html`<${Loaners} me=${me} />`;
  else if (r.name === 'callbacks' && allowed('callbacks')) screen = html`<${Callbacks} me=${me} />`;
  else if (r.name === 'complaints' && r.arg === 'new' && allowed('complaints')) screen = html`<${Complaints} me=${me} ticket=${r.arg2} />`;
  else if (r.name === 'complaints' && r.arg && allowed('complaints')) screen = html`<${ComplaintDetail} me=${me} id=${r.arg} />`;
  else if (r.name === 'complaints' && allowed('complaints')) screen = html`<${Complaints} me=${me} />`;
  else if (r.name === 'network' && allowed('network')) screen = html`<${Network} me=${me} />`;
  else if (r.name === 'prices' && allowed('prices')) screen = html`<${PricesPage} me=${me} />`;
  else if (r.name === 'stock' && allowed('stock')) screen = html`<${Stock} me=${me} />`;
  else if (r.name === 'dashboard' && allowed('dashboard')) screen = html`<${Dashboard} />`;
  else if (r.name === 'finance' && allowed('finance')) screen = html`<${Finance} me=${me} />`;
  else if ((r.name === 'queue' || !r.name) && allowed('queue')) screen = html`<${Queue} me=${me} />`;
  else if (!r.name && allowed('stock')) screen = html`<${Stock} me=${me} />`;
  else if (r.name && r.name !== 'home' && r.name !== 'queue') screen = html`<div class="page"><div class="result" id="not-found"><h1>${t('err.notfound')}</h1></div></div>`;
  else screen = html`<${Home} me=${me} />`;
  return html`<${Shell} me=${me} route=${r} onOut=${() => { setMe(null); go(''); }}>${screen}<//>`;
}

// The pieces the further screens (more.js) are built from.
export {
  can, go, DESK, READERS, Tag, StateTag, errText, ErrorBox, ErrorSummary, fid, Field, inputProps, Card, Desc, fieldErrors,
  dateOk, moneyToCents, Qr, Bars, sinceDays, useGet, MiniForm, PostButton, CHANNELS, CAUSES, CATEGORIES, SEV_COLOR,
};

render(html`<${App} />`, document.getElementById('app'));
