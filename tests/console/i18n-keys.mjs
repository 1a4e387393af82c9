// i18n-keys.mjs — the console's two message tables (console/i18n.js: zh-CN and English) hold
// the same keys, and each message names the same {placeholders} in both languages; the same
// for the tables of warranty-rule names. Prints one TAP line a check; exits 1 on a mismatch.
//
//   node tests/console/i18n-keys.mjs [console/i18n.js]
import { readFileSync } from 'node:fs';

const file = process.argv[2] || new URL('../../console/i18n.js', import.meta.url).pathname;
// The module reads the browser's storage and document at load time: give it stand-ins, then
// load its text with its private tables exported.
globalThis.localStorage = { getItem: () => null, setItem: () => {} };
globalThis.document = { documentElement: {} };
const src = readFileSync(file, 'utf8') + '\nexport { TABLES as __TABLES, RULES as __RULES };\n';
const mod = await import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));

let failed = 0;
function check(name, a, b) {
  const onlyA = Object.keys(a).filter((k) => !(k in b));
  const onlyB = Object.keys(b).filter((k) => !(k in a));
  if (onlyA.length === 0 && onlyB.length === 0) {
    console.log(`ok - ${name}: the same ${Object.keys(a).length} keys in zh-CN and English`);
  } else {
    failed++;
    console.log(`not ok - ${name}: the tables differ`);
    if (onlyA.length) console.log(`# only in zh-CN: ${onlyA.join(', ')}`);
    if (onlyB.length) console.log(`# only in English: ${onlyB.join(', ')}`);
  }
  const vars = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
  const bad = Object.keys(a).filter((k) => k in b && vars(a[k]) !== vars(b[k]));
  if (bad.length === 0) {
    console.log(`ok - ${name}: every message names the same {placeholders} in both languages`);
  } else {
    failed++;
    console.log(`not ok - ${name}: placeholders differ in ${bad.join(', ')}`);
  }
}

check('messages', mod.__TABLES['zh-CN'], mod.__TABLES.en);
check('warranty rule names', mod.__RULES['zh-CN'], mod.__RULES.en);
process.exit(failed ? 1 : 0);
