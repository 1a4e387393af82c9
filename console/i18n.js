// i18n.js — the message tables (zh-CN by default, English), and the formats every screen uses:
// dates 2026-12-07, times 2026-12-07 14:05 (China time), money ¥1,299.00.

const zh = {
  'app.title': '售后服务台', 'app.sub': '维修网络工作台',
  'lang.switch': 'English', 'lang.name': '中文',
  'login.title': '登录', 'login.login': '登录名', 'login.password': '密码', 'login.submit': '登录',
  'login.failed': '登录名或密码不正确', 'logout': '退出登录',
  'nav.desk': '前台接待', 'nav.queue': '今日工单', 'nav.intake': '新建工单', 'nav.users': '员工账号',
  'nav.dashboard': '区域看板', 'nav.home': '首页',
  'role.admin': '管理员', 'role.region': '区域经理', 'role.center': '服务中心', 'role.warehouse': '仓库',
  'role.finance': '财务', 'role.reviewer': '三包审核',
  'home.welcome': '欢迎，{name}', 'home.none': '此角色的工作台将在后续版本中提供。您可以继续使用 API 或 asctl。',
  'common.search': '查询', 'common.reset': '重置', 'common.save': '保存', 'common.cancel': '取消',
  'common.next': '下一页', 'common.first': '第一页', 'common.none': '没有记录', 'common.loading': '加载中…',
  'common.print': '打印', 'common.back': '返回', 'common.yes': '是', 'common.no': '否', 'common.open': '打开',
  'err.summary': '请更正以下问题', 'err.notfound': '未找到', 'err.notfound.ticket': '未找到该工单（可能不存在，或不属于您的服务中心）。',
  'err.forbidden': '您的角色无权执行此操作', 'err.network': '无法连接服务器', 'err.conflict': '工单状态已变化',
  'search.title': '查找回头客或设备', 'search.phone': '手机号', 'search.imei': 'IMEI', 'search.serial': '序列号',
  'search.hint': '按手机号、IMEI 或序列号精确查找（不支持按姓名模糊查找）。',
  'queue.title': '工单队列', 'queue.state': '状态', 'queue.all': '全部状态', 'queue.from': '开单自', 'queue.to': '至',
  'col.id': '工单号', 'col.opened': '开单时间', 'col.customer': '客户', 'col.device': '设备', 'col.state': '状态',
  'col.promised': '承诺完成日', 'col.waits': '等待', 'col.decision': '三包判定', 'col.center': '服务中心',
  'state.received': '已接收', 'state.adjudicated': '已判定', 'state.awaiting_review': '待审核',
  'state.estimate_pending': '待客户确认报价', 'state.in_repair': '维修中', 'state.awaiting_parts': '待配件',
  'state.ready': '待取机', 'state.closed': '已交机', 'state.cancelled': '已取消', 'state.declined': '客户拒修',
  'state.refunded': '已退货', 'state.exchanged': '已换货',
  'waits.received': '三包判定', 'waits.adjudicated': '检测与报价', 'waits.awaiting_review': '审核员复核',
  'waits.estimate_pending': '客户同意报价', 'waits.in_repair': '维修完成', 'waits.awaiting_parts': '配件到货',
  'waits.ready': '客户取机', 'waits.refund': '办理退货', 'waits.exchange': '办理换货',
  'intake.title': '新建维修工单', 'intake.customer': '客户', 'intake.device': '设备', 'intake.purchase': '购买凭证',
  'intake.fault': '故障', 'intake.precheck': '设备预检', 'intake.request': '客户诉求',
  'f.customer.name': '姓名', 'f.customer.phone': '手机号', 'f.device.category': '品类', 'f.device.brand': '品牌',
  'f.device.model': '型号', 'f.device.imei': '机身 IMEI（拨 *#06# 读取）', 'f.device.imei_label': '包装/保修卡上的 IMEI',
  'f.device.serial': '序列号', 'f.purchase.invoice_date': '发票日期', 'f.purchase.price_cents': '购买价格（元）',
  'f.purchase.invoice': '有发票', 'f.purchase.warranty_card': '有三包凭证', 'f.fault.code': '故障代码',
  'f.fault.description': '故障描述', 'f.fault.listed': '属于性能故障表', 'f.request': '诉求',
  'f.pre.appearance': '外观', 'f.pre.accessories': '随机附件', 'f.pre.imei_match': '机身 IMEI 与标签一致',
  'pre.hint': '预检结果随故障描述一并保存（API 暂无专用字段）。',
  'req.repair': '维修', 'req.exchange': '换货', 'req.refund': '退货',
  'cat.phone_host': '手机主机', 'cat.phone_battery': '手机电池', 'cat.phone_charger': '手机充电器', 'cat.general': '其他商品',
  'intake.submit': '开单', 'intake.created': '工单 {id} 已创建',
  'v.required': '请填写{field}', 'v.luhn': 'IMEI 校验位不正确（15 位数字，Luhn 校验）', 'v.phone': '请输入 11 位手机号',
  'v.date': '日期格式为 2026-12-07，且不能晚于今天', 'v.money': '金额格式如 1299.00',
  'ticket.title': '工单 {id}', 'ticket.decision': '三包判定', 'ticket.timeline': '处理记录', 'ticket.work': '维修信息',
  'ticket.waiting': '正在等待三包判定…', 'ticket.choices': '客户可选择', 'ticket.rules': '依据规则',
  'ticket.coverage_end': '三包有效期至', 'ticket.refund': '退款金额', 'ticket.free': '免费', 'ticket.paid': '客户付费',
  'ticket.review': '此判定等待三包审核员复核。',
  'dec.granted': '符合三包', 'dec.not_covered': '不在三包范围', 'dec.review': '待审核', 'dec.rejected': '不予支持',
  'remedy.refund': '退货退款', 'remedy.exchange': '换货', 'remedy.repair': '免费维修', 'remedy.paid_repair': '付费维修', 'remedy.none': '无',
  'act.diagnose': '检测与报价', 'act.consent': '客户确认报价', 'act.handback': '交机', 'act.cancel': '取消工单',
  'act.complete': '维修完成', 'act.print_intake': '打印接机单', 'act.print_handback': '打印交机单',
  'f.fault_code': '确认故障代码', 'f.labour_code': '工时代码', 'f.estimate': '报价（元）', 'f.promised_date': '承诺完成日',
  'f.note': '备注', 'f.accept': '客户同意报价', 'f.decline': '客户拒绝报价', 'f.payment_method': '付款方式',
  'f.loaner_unit': '归还备用机编号', 'f.reason': '取消原因', 'f.labour_minutes': '工时（分钟）',
  'f.cause': '故障原因',
  'pay.cash': '现金', 'pay.card': '银行卡', 'pay.wechat_pay': '微信支付', 'pay.alipay': '支付宝', 'pay.bank_transfer': '银行转账',
  'print.intake': '维修接机单', 'print.handback': '交机单', 'print.format': '纸张', 'print.a4': 'A4', 'print.receipt': '80 mm 小票',
  'print.sign': '客户签字', 'print.staff': '经办人', 'print.terms': '请凭此单取机。三包判定依据国家三包规定，所引条款见“三包判定”一栏。',
  'print.handed': '交机时间', 'print.outcome': '结果',
  'users.title': '员工账号', 'users.login': '登录名', 'users.name': '姓名', 'users.role': '角色', 'users.site': '站点',
  'users.region': '区域', 'users.active': '状态', 'users.on': '启用', 'users.off': '停用',
  'dash.title': '区域看板', 'dash.open': '在修工单', 'dash.bystate': '按状态',
  'nav.stock': '库存', 'stock.title': '库存（按站点）', 'stock.site': '站点', 'stock.low': '只看低库存', 'stock.name': '名称',
  'stock.on_hand': '在库', 'stock.reserved': '已预留', 'stock.available': '可用', 'stock.safety': '安全/再订货点', 'stock.inbound': '在途',
  'stock.backordered': '欠货', 'stock.below': '低于安全库存', 'stock.reorder': '需补货', 'stock.ok': '正常',
  'dash.nps': '净推荐值（NPS）按服务中心', 'dash.complaints': '投诉数', 'dash.responses': '回访答复', 'dash.score': '加权满意度',
  'dash.rate': '回访答复率', 'dash.open_c': '未结投诉', 'dash.escalated': '已升级',
  'nav.finance': '财务结算', 'fin.title': '财务结算', 'fin.export': '导出 CSV', 'fin.period': '会计期间', 'fin.period_bad': '会计期间格式为 2026-12',
  'fin.claim_state': '索赔状态', 'fin.balance': '试算平衡表', 'fin.balanced': '借贷平衡', 'fin.unbalanced': '借贷不平衡', 'fin.account': '科目',
  'fin.name': '科目名称', 'fin.kind': '类别', 'fin.debit': '借方', 'fin.credit': '贷方', 'fin.bal': '余额', 'fin.total': '合计（分录 {n} 笔）', 'kind.asset': '资产', 'kind.liability': '负债', 'kind.revenue': '收入', 'kind.expense': '费用',
  'fin.claims': '厂家索赔', 'fin.claim': '索赔单', 'fin.manufacturer': '厂家', 'fin.claimed': '索赔金额', 'fin.approved': '核准金额', 'fin.paid': '已付金额',
  'claim.open': '未提交', 'claim.submitted': '已提交', 'claim.approved': '已核准', 'claim.partially_approved': '部分核准', 'claim.rejected': '已拒绝', 'claim.paid': '已付款',
  'outcome.repaired': '已修复', 'outcome.refunded': '已退货', 'outcome.exchanged': '已换货', 'outcome.declined': '客户拒修', 'outcome.cancelled': '已取消',
  'ev.opened': '开单', 'ev.warranty_decided': '三包判定', 'ev.diagnosed': '检测报价', 'ev.consented': '客户同意',
  'ev.declined': '客户拒绝', 'ev.parts_requested': '申请配件', 'ev.parts_reserved': '配件已预留', 'ev.repair_completed': '维修完成',
  'ev.handed_back': '交机', 'ev.cancelled': '取消', 'ev.charged': '计费', 'ev.reviewed': '审核',
};

const en = {
  'app.title': 'Aftersales console', 'app.sub': 'repair network workbench',
  'lang.switch': '中文', 'lang.name': 'English',
  'login.title': 'Sign in', 'login.login': 'Login name', 'login.password': 'Password', 'login.submit': 'Sign in',
  'login.failed': 'Wrong login name or password', 'logout': 'Sign out',
  'nav.desk': 'Front desk', 'nav.queue': "Today's queue", 'nav.intake': 'New ticket', 'nav.users': 'Staff accounts',
  'nav.dashboard': 'Region dashboard', 'nav.home': 'Home',
  'role.admin': 'Administrator', 'role.region': 'Region manager', 'role.center': 'Service centre',
  'role.warehouse': 'Warehouse', 'role.finance': 'Finance', 'role.reviewer': 'Warranty reviewer',
  'home.welcome': 'Welcome, {name}', 'home.none': "This role's screens come in a later round. The API and asctl serve it meanwhile.",
  'common.search': 'Search', 'common.reset': 'Reset', 'common.save': 'Save', 'common.cancel': 'Cancel',
  'common.next': 'Next page', 'common.first': 'First page', 'common.none': 'Nothing found', 'common.loading': 'Loading…',
  'common.print': 'Print', 'common.back': 'Back', 'common.yes': 'Yes', 'common.no': 'No', 'common.open': 'Open',
  'err.summary': 'There is a problem', 'err.notfound': 'Not found',
  'err.notfound.ticket': 'No such ticket (it does not exist, or belongs to another centre).',
  'err.forbidden': 'Your role may not do this', 'err.network': 'Cannot reach the server', 'err.conflict': 'The ticket has moved on',
  'search.title': 'Find a returning customer or device', 'search.phone': 'Phone', 'search.imei': 'IMEI', 'search.serial': 'Serial number',
  'search.hint': 'Exact match on phone, IMEI or serial number (the API has no search by name).',
  'queue.title': 'Ticket queue', 'queue.state': 'State', 'queue.all': 'All states', 'queue.from': 'Opened from', 'queue.to': 'to',
  'col.id': 'Ticket', 'col.opened': 'Opened', 'col.customer': 'Customer', 'col.device': 'Device', 'col.state': 'State',
  'col.promised': 'Promised', 'col.waits': 'Waits for', 'col.decision': 'Warranty', 'col.center': 'Centre',
  'state.received': 'Received', 'state.adjudicated': 'Decided', 'state.awaiting_review': 'Awaiting review',
  'state.estimate_pending': 'Estimate pending', 'state.in_repair': 'In repair', 'state.awaiting_parts': 'Awaiting parts',
  'state.ready': 'Ready', 'state.closed': 'Handed back', 'state.cancelled': 'Cancelled', 'state.declined': 'Declined',
  'state.refunded': 'Refunded', 'state.exchanged': 'Exchanged',
  'waits.received': 'warranty decision', 'waits.adjudicated': 'diagnosis', 'waits.awaiting_review': 'a reviewer',
  'waits.estimate_pending': "customer's consent", 'waits.in_repair': 'repair', 'waits.awaiting_parts': 'parts',
  'waits.ready': 'customer pick-up', 'waits.refund': 'refund at the counter', 'waits.exchange': 'exchange at the counter',
  'intake.title': 'New repair ticket', 'intake.customer': 'Customer', 'intake.device': 'Device', 'intake.purchase': 'Proof of purchase',
  'intake.fault': 'Fault', 'intake.precheck': 'Device pre-check', 'intake.request': "Customer's request",
  'f.customer.name': 'Name', 'f.customer.phone': 'Mobile phone', 'f.device.category': 'Category', 'f.device.brand': 'Brand',
  'f.device.model': 'Model', 'f.device.imei': 'IMEI inside the device (*#06#)', 'f.device.imei_label': 'IMEI on the box / warranty card',
  'f.device.serial': 'Serial number', 'f.purchase.invoice_date': 'Invoice date', 'f.purchase.price_cents': 'Price paid (¥)',
  'f.purchase.invoice': 'Invoice shown', 'f.purchase.warranty_card': 'Warranty card (三包凭证) shown', 'f.fault.code': 'Fault code',
  'f.fault.description': 'Fault description', 'f.fault.listed': 'Listed performance fault', 'f.request': 'Request',
  'f.pre.appearance': 'Appearance', 'f.pre.accessories': 'Accessories handed in', 'f.pre.imei_match': 'IMEI inside = label',
  'pre.hint': 'The pre-check is kept with the fault description (the API has no field for it yet).',
  'req.repair': 'Repair', 'req.exchange': 'Exchange', 'req.refund': 'Refund',
  'cat.phone_host': 'Phone', 'cat.phone_battery': 'Phone battery', 'cat.phone_charger': 'Phone charger', 'cat.general': 'Other goods',
  'intake.submit': 'Open ticket', 'intake.created': 'Ticket {id} opened',
  'v.required': 'Enter the {field}', 'v.luhn': 'The IMEI check digit is wrong (15 digits, Luhn)', 'v.phone': 'Enter an 11-digit mobile number',
  'v.date': 'Dates look like 2026-12-07 and may not be after today', 'v.money': 'Amounts look like 1299.00',
  'ticket.title': 'Ticket {id}', 'ticket.decision': 'Warranty decision (三包)', 'ticket.timeline': 'Timeline', 'ticket.work': 'Work',
  'ticket.waiting': 'Waiting for the warranty decision…', 'ticket.choices': 'The customer may choose', 'ticket.rules': 'Rules',
  'ticket.coverage_end': 'Covered until', 'ticket.refund': 'Refund', 'ticket.free': 'Free', 'ticket.paid': 'Customer pays',
  'ticket.review': 'This decision waits for a warranty reviewer.',
  'dec.granted': 'Covered by 三包', 'dec.not_covered': 'Not covered', 'dec.review': 'Under review', 'dec.rejected': 'Rejected',
  'remedy.refund': 'refund', 'remedy.exchange': 'exchange', 'remedy.repair': 'free repair', 'remedy.paid_repair': 'paid repair', 'remedy.none': 'none',
  'act.diagnose': 'Diagnosis & estimate', 'act.consent': "Customer's consent", 'act.handback': 'Hand back', 'act.cancel': 'Cancel ticket',
  'act.complete': 'Repair complete', 'act.print_intake': 'Print job sheet', 'act.print_handback': 'Print hand-back receipt',
  'f.fault_code': 'Confirmed fault code', 'f.labour_code': 'Labour code', 'f.estimate': 'Estimate (¥)', 'f.promised_date': 'Ready by',
  'f.note': 'Note', 'f.accept': 'Customer accepts', 'f.decline': 'Customer declines', 'f.payment_method': 'Payment method',
  'f.loaner_unit': 'Loaner unit returned', 'f.reason': 'Reason', 'f.labour_minutes': 'Labour (minutes)', 'f.cause': 'Cause',
  'pay.cash': 'Cash', 'pay.card': 'Bank card', 'pay.wechat_pay': 'WeChat Pay', 'pay.alipay': 'Alipay', 'pay.bank_transfer': 'Bank transfer',
  'print.intake': 'Repair job sheet', 'print.handback': 'Hand-back receipt', 'print.format': 'Paper', 'print.a4': 'A4', 'print.receipt': '80 mm receipt',
  'print.sign': 'Customer signature', 'print.staff': 'Staff', 'print.terms': 'Bring this sheet to collect the device. Warranty decisions follow the PRC 三包 regulations.',
  'print.handed': 'Handed back', 'print.outcome': 'Outcome',
  'users.title': 'Staff accounts', 'users.login': 'Login', 'users.name': 'Name', 'users.role': 'Role', 'users.site': 'Site',
  'users.region': 'Region', 'users.active': 'Status', 'users.on': 'Active', 'users.off': 'Disabled',
  'dash.title': 'Region dashboard', 'dash.open': 'Open tickets', 'dash.bystate': 'By state',
  'nav.stock': 'Stock', 'stock.title': 'Stock by site', 'stock.site': 'Site', 'stock.low': 'Low stock only', 'stock.name': 'Name',
  'stock.on_hand': 'On hand', 'stock.reserved': 'Reserved', 'stock.available': 'Available', 'stock.safety': 'Safety / reorder', 'stock.inbound': 'Inbound',
  'stock.backordered': 'Backordered', 'stock.below': 'Below safety', 'stock.reorder': 'Reorder', 'stock.ok': 'OK',
  'dash.nps': 'NPS by centre', 'dash.complaints': 'Complaints', 'dash.responses': 'Responses', 'dash.score': 'Weighted score',
  'dash.rate': 'Response rate', 'dash.open_c': 'Open complaints', 'dash.escalated': 'Escalated',
  'nav.finance': 'Finance', 'fin.title': 'Finance', 'fin.export': 'Export CSV', 'fin.period': 'Period', 'fin.period_bad': 'Periods look like 2026-12',
  'fin.claim_state': 'Claim state', 'fin.balance': 'Trial balance', 'fin.balanced': 'Balanced', 'fin.unbalanced': 'Not balanced', 'fin.account': 'Account',
  'fin.name': 'Name', 'fin.kind': 'Kind', 'fin.debit': 'Debit', 'fin.credit': 'Credit', 'fin.bal': 'Balance', 'fin.total': 'Total ({n} entries)', 'kind.asset': 'asset', 'kind.liability': 'liability', 'kind.revenue': 'revenue', 'kind.expense': 'expense',
  'fin.claims': 'Manufacturer claims', 'fin.claim': 'Claim', 'fin.manufacturer': 'Manufacturer', 'fin.claimed': 'Claimed', 'fin.approved': 'Approved', 'fin.paid': 'Paid',
  'claim.open': 'open', 'claim.submitted': 'submitted', 'claim.approved': 'approved', 'claim.partially_approved': 'partly approved', 'claim.rejected': 'rejected', 'claim.paid': 'paid',
  'outcome.repaired': 'repaired', 'outcome.refunded': 'refunded', 'outcome.exchanged': 'exchanged', 'outcome.declined': 'declined', 'outcome.cancelled': 'cancelled',
  'ev.opened': 'opened', 'ev.warranty_decided': 'warranty decided', 'ev.diagnosed': 'diagnosed', 'ev.consented': 'consent given',
  'ev.declined': 'estimate declined', 'ev.parts_requested': 'parts requested', 'ev.parts_reserved': 'parts reserved',
  'ev.repair_completed': 'repair completed', 'ev.handed_back': 'handed back', 'ev.cancelled': 'cancelled', 'ev.charged': 'charged', 'ev.reviewed': 'reviewed',
};

// Plain words for the warranty rules (docs/warranty-engine.md, the shared rule book).
const RULES = {
  'zh-CN': {
    'M-1': '三包有效期', 'M-2': '7 日内性能故障可退货', 'M-3': '15 日内性能故障可换货或维修', 'M-4': '有效期内免费维修',
    'M-5': '两次维修仍不能正常使用可换货或退货', 'M-6': '配件在自身有效期内', 'M-7': '厂家配件延误', 'M-8': '维修超过 30 日',
    'M-9': '无同型号可换，可退货', 'M-10': '消费者拒绝可用的换货', 'M-11': '换货后重新计算有效期', 'M-12': '三包凭证',
    'M-13': '不属于三包范围（可付费维修）', 'M-14': '性能故障表', 'E1': '超过三包有效期', 'E2': '使用、维护、保管不当',
    'E3': '非授权拆修', 'E4': '无三包凭证及发票', 'E5': '凭证与商品不符', 'E6': '不可抗力',
    'G-1': '7 日内可退货、换货或维修', 'G-2': '15 日内可换货或维修', 'G-3': '两次维修仍不能使用可换货',
    'C-1': '保修期内免费维修', 'C-3': '60 日/3000 公里内转向、制动故障', 'C-4': '60 日/3000 公里内主要总成',
    'C-5': '累计维修次数', 'C-8': '备用车',
  },
  en: {
    'M-1': 'validity period', 'M-2': '7-day refund for a listed fault', 'M-3': '15-day exchange or repair for a listed fault',
    'M-4': 'free repair inside validity', 'M-5': 'two repairs and still failing: exchange or refund', 'M-6': 'accessory inside its own validity',
    'M-7': "producer's parts delay", 'M-8': "repairer's delay over 30 days", 'M-9': 'no same model: refund', 'M-10': 'customer refuses an available exchange',
    'M-11': 'exchange restarts validity', 'M-12': 'proofs', 'M-13': 'excluded from 三包 (paid repair offered)', 'M-14': 'listed performance faults',
    'E1': 'validity expired', 'E2': 'misuse', 'E3': 'opened by an unauthorised repairer', 'E4': 'no proof at all', 'E5': 'card does not match the device',
    'E6': 'force majeure', 'G-1': '7-day refund, exchange or repair', 'G-2': '15-day exchange or repair', 'G-3': 'two repairs and still unusable: exchange',
    'C-1': 'free repair inside warranty', 'C-3': '60 days / 3000 km: steering or brakes', 'C-4': '60 days / 3000 km: main assembly',
    'C-5': 'repair counts inside validity', 'C-8': 'backup car',
  },
};

const TABLES = { 'zh-CN': zh, en };
let lang = localStorage.getItem('as_lang') === 'en' ? 'en' : 'zh-CN';

export function getLang() { return lang; }
export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh-CN';
  localStorage.setItem('as_lang', lang);
  document.documentElement.lang = lang;
}
document.documentElement.lang = lang;

export function t(key, vars) {
  let s = TABLES[lang][key] ?? zh[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

export function ruleText(id) {
  return RULES[lang][id] || '';
}

// 2026-12-07 from "2026-12-07" or a timestamp.
export function fmtDate(s) {
  if (!s) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return s;
  const d = new Date(s);
  if (isNaN(d)) return s;
  return d.toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
}

// 2026-12-07 14:05 in China time.
export function fmtTime(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return s;
  return d.toLocaleString('sv-SE', { timeZone: 'Asia/Shanghai', hour12: false }).slice(0, 16);
}

// ¥1,299.00 from cents.
export function fmtMoney(cents) {
  if (cents === undefined || cents === null || cents === '') return '—';
  const n = Number(cents);
  const s = (Math.abs(n) / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${n < 0 ? '-' : ''}¥${s}`;
}

// Today in China (the API's business day).
export function today() {
  return new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
}
