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
  'ev.estimate_accepted': '客户同意报价', 'ev.estimate_revised': '修改报价', 'ev.estimate_declined': '客户拒绝报价', 'ev.loaner_returned': '归还备用机', 'ev.loaner_lent': '借出备用机', 'ev.parts_backordered': '配件欠货', 'ev.returned_unrepaired': '未修退回',
  'nav.prices': '价目表', 'price.any': '全部', 'price.vat': '{date} 的价目，增值税 {rate}%', 'price.date': '适用日期',
  'price.hint': '结算服务按此价目表向客户计费（指定日期当天有效的价格）。', 'price.hint_fin': '结算服务按此价目表计费；成本价与厂家索赔价仅财务与管理员可见。',
  'price.labour': '工时费', 'price.flat': '固定费', 'price.hour': '每小时', 'price.claim': '索赔价', 'price.from': '生效日期', 'price.parts': '配件',
  'price.fees': '服务费', 'price.fee': '费用代码', 'price.applies': '适用', 'price.applies_always': '每单', 'price.applies_visit': '上门服务',
  'dash.cost': '单次维修成本（近 30 天，按服务中心）', 'dash.cost_hint': '结算服务的成本分析：各中心计费工单的总成本 ÷ 工单数（共 {n} 单）。周转时间、一次修复率与返修率暂无 API 报表，故不显示。',
  'nav.workshop': '维修车间', 'nav.callbacks': '回访', 'nav.complaints': '投诉看板', 'nav.transfers': '调拨', 'nav.returns': '旧件返还',
  'nav.loaners': '备用机', 'nav.network': '网络管理',
  'f.parts': '所需配件（SKU*数量，逗号分隔）', 'v.parts': '配件格式如 HX10-SCREEN*1, HX10-BATT', 'f.new_estimate': '新报价（元）',
  'act.request_parts': '申请配件', 'act.revise': '修改报价', 'act.print_estimate': '打印报价单', 'act.print_invoice': '打印发票',
  'work.title': '维修车间', 'work.mine': '本中心（{center}）的在修工单，按状态分组。', 'work.parts': '配件',
  'work.h.adjudicated': '待检测报价', 'work.h.estimate_pending': '等客户确认', 'work.h.in_repair': '维修中', 'work.h.awaiting_parts': '等配件', 'work.h.ready': '待取机',
  'line.needed': '检测所需', 'line.requested': '已申请', 'line.reserved': '已预留', 'line.backordered': '欠货（调拨中）', 'line.issued': '已领用', 'line.released': '已释放',
  'print.estimate': '维修报价单', 'print.invoice': '发票', 'print.estimate_lines': '报价明细', 'print.item': '项目', 'print.estimate_total': '报价合计',
  'print.estimate_terms': '客户签字即表示同意按上述报价维修；如需增加费用，服务中心将另行报价并征得您的同意。',
  'print.no_invoice': '此工单没有开具发票（例如三包免费维修或退换货）。', 'print.invoice_no': '发票号', 'print.unit': '单价', 'print.amount': '金额',
  'print.net': '不含税金额', 'print.vat': '增值税（{rate}%）', 'print.total': '价税合计',
  'tr.title': '调拨', 'tr.suggest': '补货建议 → 调拨', 'tr.from_suggestion': '按补货建议创建', 'tr.to': '调入站点', 'tr.from': '调出站点',
  'tr.created': '调拨单 {id} 已创建（{state}）', 'tr.target': '目标库存', 'tr.suggested': '建议数量', 'tr.qty': '数量', 'tr.nothing': '该站点目前无需补货',
  'tr.create': '创建调拨单（{n} 行）', 'tr.shipped': '发出', 'tr.received_ok': '完好收货', 'tr.damaged': '损坏', 'tr.receive': '收货', 'tr.approve': '批准',
  'tr.ship': '发货', 'tr.list': '调拨单', 'tr.id': '调拨单号', 'tr.lines': '明细', 'tr.when': '时间', 'tr.discrepancy': '差异',
  'trs.pending_approval': '待批准', 'trs.waiting': '等待库存', 'trs.allocated': '已分配', 'trs.shipped': '已发货', 'trs.received': '已收货', 'trs.cancelled': '已取消',
  'ret.title': '旧件返还（厂家索赔）', 'ret.hint': '三包更换下来的旧件须返还中心仓库，厂家凭此结算索赔。', 'ret.id': '返还单', 'ret.due': '应返还日期',
  'ret.receive': '仓库签收', 'ret.owed': '待返还', 'ret.overdue': '已逾期', 'ret.returned': '已返还',
  'loan.title': '备用机', 'loan.hint': '备用机只能借给本站点未结工单的客户；交机时归还。', 'loan.serial': '序列号', 'loan.holder': '借用工单 / 客户',
  'loan.days': '借出天数', 'loan.return': '归还', 'loan.lend': '借出', 'loan.available': '在库', 'loan.lent': '已借出',
  'cb.title': '回访', 'cb.date': '截至日期', 'cb.id': '回访单', 'cb.attempts': '已拨打', 'cb.none': '今天没有待回访的客户', 'cb.call': '拨打',
  'cb.script': '您好，{name}，我是{center}服务中心的回访专员。您的{brand}设备（工单 {ticket}）已经处理完毕，想占用您一分钟，请您为我们的服务打分：服务态度、维修质量、及时性、价格、环境各 1–5 分，以及您向朋友推荐我们的可能性（0–10 分）。',
  'cb.save': '保存评分', 'cb.unreachable': '未接通', 'cb.refuse': '客户拒访', 'cb.saved': '回访 {id} 已记录，综合得分 {score}。', 'cb.complaint': '低分已自动生成投诉 {id}。',
  'cb.recorded': '回访 {id} 已记录。', 'cb.attitude': '服务态度', 'cb.repair_quality': '维修质量', 'cb.timeliness': '及时性', 'cb.price': '价格', 'cb.facilities': '环境设施',
  'cb.nps': '推荐意愿（0–10）', 'cb.comment': '客户意见',
  'cp.title': '投诉看板', 'cp.new': '登记投诉', 'cp.open': '登记', 'cp.opened': '投诉 {id} 已登记', 'cp.from_ticket': '登记投诉', 'cp.id': '投诉单',
  'cp.severity': '严重程度', 'cp.only_overdue': '只看超时', 'cp.next_deadline': '下一个时限', 'cp.is_overdue': '已超时', 'cp.level': '处理层级',
  'cp.channel': '渠道', 'cp.cause': '原因', 'cp.description': '投诉内容', 'cp.facts': '投诉信息', 'cp.escalations': '升级次数', 'cp.resolution': '处理结果',
  'cp.report': '书面报告', 'cp.deadlines': '时限', 'cp.kind': '事项', 'cp.due': '截止', 'cp.met': '已完成', 'cp.escalated_n': '已升级 {n} 次',
  'cp.acknowledge': '受理', 'cp.resolve': '处理完毕', 'cp.close': '回访结案', 'cp.file_report': '提交书面报告', 'cp.followup': '回访结果',
  'cp.days': '{n} 天', 'cp.hm': '{h} 小时 {m} 分', 'cp.overdue_by': '已超时 {span}', 'cp.left': '剩余 {span}', 'cp.all_met': '时限均已完成',
  'cp.dl.acknowledge': '受理', 'cp.dl.resolve': '处理', 'cp.dl.report': '书面报告',
  'sev.general': '一般', 'sev.serious': '严重', 'sev.critical': '重大',
  'cps.open': '待受理', 'cps.acknowledged': '处理中', 'cps.resolved': '已处理', 'cps.closed': '已结案',
  'ch.walk_in': '到店', 'ch.phone': '电话', 'ch.online': '网络', 'ch.manufacturer': '厂家转来', 'ch.hotline_12315': '12315 热线', 'ch.operator': '运营商',
  'ch.media': '媒体', 'ch.survey': '回访低分', 'ch.government': '政府部门',
  'cause.attitude': '服务态度', 'cause.repair_quality': '维修质量', 'cause.overdue': '超时', 'cause.parts_unavailable': '缺配件', 'cause.price': '价格', 'cause.other': '其他',
  'lvl.centre_lead': '中心组长', 'lvl.centre_manager': '中心经理', 'lvl.branch': '分公司', 'lvl.head_office': '总部',
  'fu.satisfied': '满意', 'fu.unsatisfied': '不满意', 'fu.unreachable': '联系不上',
  'net.title': '网络管理', 'net.centers': '服务中心', 'net.regions': '区域', 'net.brands': '品牌', 'net.code': '代码', 'net.name': '名称', 'net.address': '地址',
  'net.open_center': '开设服务中心', 'net.add_region': '新增区域', 'net.add_brand': '新增品牌', 'net.models': '型号', 'net.saved': '{id} 已保存',
  'net.prices': '价目表',
  'net.list_price': '零售价', 'net.unit_cost': '成本价', 'net.defective': '须返还旧件',
  'cst.open': '营业', 'cst.suspended': '暂停', 'cst.closed': '已关闭',
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
  'ev.estimate_accepted': 'estimate accepted', 'ev.estimate_revised': 'estimate revised', 'ev.estimate_declined': 'estimate declined', 'ev.loaner_returned': 'loaner returned', 'ev.loaner_lent': 'loaner lent', 'ev.parts_backordered': 'parts backordered', 'ev.returned_unrepaired': 'returned unrepaired',
  'nav.prices': 'Price list', 'price.any': 'any', 'price.vat': 'in force on {date}, VAT {rate}%', 'price.date': 'In force on',
  'price.hint': 'Settlement charges customers from this price list (the prices in force on the date).', 'price.hint_fin': 'Settlement charges from this price list; costs and manufacturer claim prices are shown to finance and administrators only.',
  'price.labour': 'Labour', 'price.flat': 'Flat', 'price.hour': 'Per hour', 'price.claim': 'Claim price', 'price.from': 'Since', 'price.parts': 'Parts',
  'price.fees': 'Fees', 'price.fee': 'Fee code', 'price.applies': 'Applies', 'price.applies_always': 'every job', 'price.applies_visit': 'customer visits',
  'dash.cost': 'Cost per repair (last 30 days, by centre)', 'dash.cost_hint': "Settlement's cost analysis: each centre's total cost of its charged tickets ÷ their number ({n} in all). Turnaround, first-time fix and repeat repairs have no API report yet, so none is shown.",
  'nav.workshop': 'Workshop', 'nav.callbacks': 'Call-backs', 'nav.complaints': 'Complaints', 'nav.transfers': 'Transfers', 'nav.returns': 'Defective returns',
  'nav.loaners': 'Loaners', 'nav.network': 'Network',
  'f.parts': 'Parts needed (SKU*qty, comma separated)', 'v.parts': 'Parts look like HX10-SCREEN*1, HX10-BATT', 'f.new_estimate': 'Revised estimate (¥)',
  'act.request_parts': 'Request parts', 'act.revise': 'Revise estimate', 'act.print_estimate': 'Print estimate', 'act.print_invoice': 'Print invoice',
  'work.title': 'Workshop', 'work.mine': 'The open work of your centre ({center}), by state.', 'work.parts': 'Parts',
  'work.h.adjudicated': 'to diagnose', 'work.h.estimate_pending': "waiting for the customer's consent", 'work.h.in_repair': 'in repair', 'work.h.awaiting_parts': 'waiting for parts', 'work.h.ready': 'ready for pick-up',
  'line.needed': 'needed', 'line.requested': 'requested', 'line.reserved': 'reserved', 'line.backordered': 'backordered (transfer)', 'line.issued': 'issued', 'line.released': 'released',
  'print.estimate': 'Repair estimate', 'print.invoice': 'Invoice', 'print.estimate_lines': 'Estimate', 'print.item': 'Item', 'print.estimate_total': 'Estimate total',
  'print.estimate_terms': 'By signing, the customer accepts the repair at this estimate. Should the work need more, the centre asks again before going on.',
  'print.no_invoice': 'No invoice was issued for this ticket (e.g. a free 三包 repair, a refund or an exchange).', 'print.invoice_no': 'Invoice no.', 'print.unit': 'Unit price', 'print.amount': 'Amount',
  'print.net': 'Net', 'print.vat': 'VAT ({rate}%)', 'print.total': 'Total',
  'tr.title': 'Transfers', 'tr.suggest': 'Replenishment suggestions → transfer', 'tr.from_suggestion': 'from the replenishment suggestion', 'tr.to': 'To site', 'tr.from': 'From site',
  'tr.created': 'Transfer {id} created ({state})', 'tr.target': 'Target', 'tr.suggested': 'Suggested', 'tr.qty': 'Qty', 'tr.nothing': 'Nothing to reorder at this site',
  'tr.create': 'Create transfer ({n} lines)', 'tr.shipped': 'Shipped', 'tr.received_ok': 'Received in good order', 'tr.damaged': 'Damaged', 'tr.receive': 'Receive', 'tr.approve': 'Approve',
  'tr.ship': 'Ship', 'tr.list': 'Transfers', 'tr.id': 'Transfer', 'tr.lines': 'Lines', 'tr.when': 'When', 'tr.discrepancy': 'Discrepancy',
  'trs.pending_approval': 'pending approval', 'trs.waiting': 'waiting for stock', 'trs.allocated': 'allocated', 'trs.shipped': 'shipped', 'trs.received': 'received', 'trs.cancelled': 'cancelled',
  'ret.title': 'Defective returns (manufacturer claims)', 'ret.hint': 'Parts replaced under 三包 go back to the central warehouse; the manufacturer pays the claim against them.', 'ret.id': 'Return', 'ret.due': 'Due back',
  'ret.receive': 'Receive at warehouse', 'ret.owed': 'owed', 'ret.overdue': 'overdue', 'ret.returned': 'returned',
  'loan.title': 'Loaner phones', 'loan.hint': "A loaner is lent only against an open ticket of its own site, and comes back at hand-back.", 'loan.serial': 'Serial', 'loan.holder': 'Ticket / customer',
  'loan.days': 'Days out', 'loan.return': 'Return', 'loan.lend': 'Lend', 'loan.available': 'available', 'loan.lent': 'lent',
  'cb.title': 'Call-back desk', 'cb.date': 'Due up to', 'cb.id': 'Call-back', 'cb.attempts': 'Attempts', 'cb.none': 'No customer to call today', 'cb.call': 'Call',
  'cb.script': 'Hello {name}, this is the customer care desk of service centre {center}. Your {brand} device (ticket {ticket}) has been dealt with; may we have a minute of your time? Please score attitude, repair quality, timeliness, price and the premises from 1 to 5, and how likely you are to recommend us to a friend, from 0 to 10.',
  'cb.save': 'Save the scores', 'cb.unreachable': 'No answer', 'cb.refuse': 'Customer refused', 'cb.saved': 'Call-back {id} recorded, weighted score {score}.', 'cb.complaint': 'The low score opened complaint {id}.',
  'cb.recorded': 'Call-back {id} recorded.', 'cb.attitude': 'Attitude', 'cb.repair_quality': 'Repair quality', 'cb.timeliness': 'Timeliness', 'cb.price': 'Price', 'cb.facilities': 'Premises',
  'cb.nps': 'Would recommend (0–10)', 'cb.comment': 'Comment',
  'cp.title': 'Complaints board', 'cp.new': 'Open a complaint', 'cp.open': 'Open', 'cp.opened': 'Complaint {id} opened', 'cp.from_ticket': 'Open a complaint', 'cp.id': 'Complaint',
  'cp.severity': 'Severity', 'cp.only_overdue': 'Overdue only', 'cp.next_deadline': 'Next deadline', 'cp.is_overdue': 'overdue', 'cp.level': 'Level',
  'cp.channel': 'Channel', 'cp.cause': 'Cause', 'cp.description': 'What happened', 'cp.facts': 'The complaint', 'cp.escalations': 'Escalations', 'cp.resolution': 'Resolution',
  'cp.report': 'Written report', 'cp.deadlines': 'Deadlines', 'cp.kind': 'To do', 'cp.due': 'Due', 'cp.met': 'done', 'cp.escalated_n': 'escalated {n}×',
  'cp.acknowledge': 'Acknowledge', 'cp.resolve': 'Resolve', 'cp.close': 'Close after follow-up', 'cp.file_report': 'File the written report', 'cp.followup': 'Follow-up outcome',
  'cp.days': '{n} days', 'cp.hm': '{h} h {m} min', 'cp.overdue_by': 'overdue by {span}', 'cp.left': '{span} left', 'cp.all_met': 'all deadlines met',
  'cp.dl.acknowledge': 'acknowledge', 'cp.dl.resolve': 'resolve', 'cp.dl.report': 'written report',
  'sev.general': 'general', 'sev.serious': 'serious', 'sev.critical': 'critical',
  'cps.open': 'open', 'cps.acknowledged': 'acknowledged', 'cps.resolved': 'resolved', 'cps.closed': 'closed',
  'ch.walk_in': 'walk-in', 'ch.phone': 'phone', 'ch.online': 'online', 'ch.manufacturer': 'from the manufacturer', 'ch.hotline_12315': '12315 hotline', 'ch.operator': 'carrier',
  'ch.media': 'media', 'ch.survey': 'low call-back score', 'ch.government': 'government',
  'cause.attitude': 'attitude', 'cause.repair_quality': 'repair quality', 'cause.overdue': 'late', 'cause.parts_unavailable': 'parts unavailable', 'cause.price': 'price', 'cause.other': 'other',
  'lvl.centre_lead': 'centre lead', 'lvl.centre_manager': 'centre manager', 'lvl.branch': 'branch', 'lvl.head_office': 'head office',
  'fu.satisfied': 'satisfied', 'fu.unsatisfied': 'unsatisfied', 'fu.unreachable': 'unreachable',
  'net.title': 'Network', 'net.centers': 'Service centres', 'net.regions': 'Regions', 'net.brands': 'Brands', 'net.code': 'Code', 'net.name': 'Name', 'net.address': 'Address',
  'net.open_center': 'Open a centre', 'net.add_region': 'Add a region', 'net.add_brand': 'Add a brand', 'net.models': 'Models', 'net.saved': '{id} saved',
  'net.prices': 'Price list',
  'net.list_price': 'List price', 'net.unit_cost': 'Cost', 'net.defective': 'Defective part returned',
  'cst.open': 'open', 'cst.suspended': 'suspended', 'cst.closed': 'closed',
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
