// status.js — the customer's status page: the ticket number and the last four digits of the
// phone give the ticket's progress (GET /v1/status/{ticket_no}?phone_last4=), and a waiting
// estimate can be accepted or declined (POST /v1/status/{ticket_no}/estimate). zh-CN by default,
// English with the switch (kept in localStorage). No credentials, no cookies, no CDN.

const TEXT = {
  'zh-CN': {
    title: '维修进度查询', switch: 'English', ticket: '服务单号', last4: '手机号后四位', show: '查询',
    no: '服务单号', device: '产品', center: '服务网点', promised: '预计完成', estimate: '维修报价',
    estimate_hint: '请确认是否同意维修。', accept: '同意维修', decline: '不修了', pickup: '可以取件',
    steps: '进度', privacy: '本页不显示您的姓名、电话和地址。',
    not_found: '没有找到该服务单，请核对单号和手机号后四位。',
    bad_input: '请输入服务单号和手机号的后四位数字。',
    limited: '查询过于频繁，请 {s} 秒后再试。', conflict: '该服务单当前无需确认报价，页面已刷新。',
    failed: '服务暂时不可用，请稍后再试。', accepted: '已确认，我们将尽快为您维修。',
    declined: '已记录您不维修的决定，请到网点取回产品。',
    confirm_decline: '确定不维修吗？', pickup_at: '请到 {c} 取件（{d} 起）。', qty: '×',
  },
  en: {
    title: 'Repair status', switch: '中文', ticket: 'Ticket number', last4: 'Last four digits of your phone',
    show: 'Show', no: 'Ticket', device: 'Product', center: 'Service centre', promised: 'Expected by',
    estimate: 'Repair estimate', estimate_hint: 'Do you want us to go ahead with the repair?',
    accept: 'Accept', decline: 'Decline', pickup: 'Ready for pickup', steps: 'Progress',
    privacy: 'This page never shows your name, phone or address.',
    not_found: 'No ticket found: check the ticket number and the last four digits of your phone.',
    bad_input: 'Enter the ticket number and the last four digits of your phone.',
    limited: 'Too many requests; try again in {s} s.',
    conflict: 'This ticket has no estimate waiting for you; the page has been refreshed.',
    failed: 'The service is not available right now; try again later.',
    accepted: 'Thank you: the repair goes ahead.',
    declined: 'Noted: no repair. Please collect your product at the centre.',
    confirm_decline: 'Decline the repair?', pickup_at: 'Collect it at {c} (from {d}).', qty: '×',
  },
};

let lang = localStorage.getItem('status.lang') === 'en' ? 'en' : 'zh-CN';
let last = null; // the last answer, redrawn when the language changes
const $ = (id) => document.getElementById(id);
const t = (k, vars = {}) => TEXT[lang][k].replace(/\{(\w+)\}/g, (_, v) => vars[v] ?? '');
const words = (w) => (w ? (lang === 'en' ? w.en : w.zh_cn) || '' : '');
const money = (cents) => `¥${(cents / 100).toFixed(2)}`;
const when = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(lang, { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit',
    day: '2-digit', hour: '2-digit', minute: '2-digit' });
};

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = `${t('title')} · ${lang === 'en' ? '维修进度查询' : 'Repair status'}`;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  if (last) draw(last);
}

function say(text, ok = false) {
  const m = $('message');
  m.textContent = text;
  m.className = ok ? 'ok' : '';
  m.hidden = !text;
}

function keys() {
  return { no: $('ticket').value.trim().toUpperCase(), last4: $('last4').value.trim() };
}

function draw(s) {
  last = s;
  $('result').hidden = false;
  $('state').textContent = words(s.state_words);
  $('r-no').textContent = s.ticket_no;
  $('r-device').textContent = s.device || '';
  $('r-center').textContent = s.center_name || '';
  $('r-promised').textContent = s.promised_date || '';
  $('r-promised').hidden = $('promised-label').hidden = !s.promised_date;
  const e = s.estimate;
  $('estimate').hidden = !e;
  if (e) {
    $('e-amount').textContent = money(e.amount_cents || 0);
    $('e-lines').replaceChildren(...(e.lines || []).map((l) => {
      const li = document.createElement('li');
      li.textContent = `${l.sku} ${t('qty')}${l.qty}`;
      return li;
    }));
  }
  $('pickup').hidden = !s.pickup;
  if (s.pickup) $('p-text').textContent = t('pickup_at', { c: s.pickup.center_name || s.pickup.center, d: when(s.pickup.since) });
  $('steps').replaceChildren(...(s.steps || []).map((st) => {
    const li = document.createElement('li');
    li.textContent = words(st.words);
    const tm = document.createElement('time');
    tm.dateTime = st.at;
    tm.textContent = when(st.at);
    li.append(tm);
    return li;
  }));
}

async function call(method, path, body) {
  const res = await fetch(path, {
    method, credentials: 'omit', cache: 'no-store',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  return { status: res.status, json, retry: res.headers.get('Retry-After') };
}

function failure(r) {
  if (r.status === 404) return t('not_found');
  if (r.status === 400) return t('bad_input');
  if (r.status === 429) return t('limited', { s: r.retry || '60' });
  return t('failed');
}

async function lookup() {
  const k = keys();
  if (!/^[A-Za-z0-9]{1,32}$/.test(k.no) || !/^[0-9]{4}$/.test(k.last4)) {
    say(t('bad_input'));
    return;
  }
  $('show').disabled = true;
  try {
    const r = await call('GET', `/v1/status/${encodeURIComponent(k.no)}?phone_last4=${k.last4}`);
    if (r.status === 200) {
      say('');
      draw(r.json);
    } else {
      $('result').hidden = true;
      last = null;
      say(failure(r));
    }
  } catch {
    say(t('failed'));
  } finally {
    $('show').disabled = false;
  }
}

async function decide(decision) {
  if (decision === 'decline' && !window.confirm(t('confirm_decline'))) return;
  const k = keys();
  for (const b of [$('accept'), $('decline')]) b.disabled = true;
  try {
    const r = await call('POST', `/v1/status/${encodeURIComponent(k.no)}/estimate`,
      { phone_last4: k.last4, decision });
    if (r.status === 200) {
      draw(r.json);
      say(t(decision === 'accept' ? 'accepted' : 'declined'), true);
    } else if (r.status === 409) {
      await lookup();
      say(t('conflict'));
    } else {
      say(failure(r));
    }
  } catch {
    say(t('failed'));
  } finally {
    for (const b of [$('accept'), $('decline')]) b.disabled = false;
  }
}

$('lookup').addEventListener('submit', (ev) => { ev.preventDefault(); lookup(); });
$('accept').addEventListener('click', () => decide('accept'));
$('decline').addEventListener('click', () => decide('decline'));
$('lang').addEventListener('click', () => {
  lang = lang === 'en' ? 'zh-CN' : 'en';
  localStorage.setItem('status.lang', lang);
  applyLanguage();
});
// A link from a notification may carry the ticket number: /status/?t=T00000042
const pre = new URLSearchParams(location.search).get('t');
if (pre) $('ticket').value = pre;
applyLanguage();
