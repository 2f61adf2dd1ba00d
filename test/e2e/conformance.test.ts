// The OCI runtime-tools validation suite against hako's runtime: every test and subtest that runc
// 1.1.5 passes on this machine kind (conformance/runc-baseline.txt) must pass for hako too.
// Needs root and the suite's binaries (`bash conformance/build.sh`); skips, saying why, otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/e2e/conformance.test.js → the repository root
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = join(repo, 'conformance');
// Overridable to check this test itself against a stand-in suite and baseline.
const binDir = process.env.CONFORMANCE_BIN ?? join(dir, 'bin');
const baselineFile = process.env.CONFORMANCE_BASELINE ?? join(dir, 'runc-baseline.txt');
const perTestTimeoutS = Number(process.env.CONFORMANCE_TIMEOUT ?? 60);

interface Row { kind: string; name: string; result: string; description: string }

function readRows(file: string): Row[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [kind = '', name = '', result = '', ...rest] = l.split('\t');
      return { kind, name, result, description: rest.join('\t') };
    });
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(join(binDir, 'runtimetest'))) return 'suite not built: run `bash conformance/build.sh` (see conformance/README.md)';
  if (!existsSync(baselineFile)) return `${baselineFile} is missing`;
  if (!readRows(baselineFile).some((r) => r.result === 'pass')) {
    return 'conformance/runc-baseline.txt records no passing test (run `bash conformance/compare.sh --update-baseline`)';
  }
  return undefined;
}

const skip = whyNot();
const baseline = skip ? [] : readRows(baselineFile);
// A test runs if runc passes it or any of its subtests.
const testNames = [...new Set(baseline.filter((r) => r.result === 'pass').map((r) => r.name.split('#')[0] ?? r.name))].sort();
// Upper bound: every test may hit run.sh's per-test timeout (plus cleanup).
const budgetMs = (testNames.length * (perTestTimeoutS + 15) + 60) * 1000;

test('OCI runtime-tools validation suite: hako passes what runc passes', { skip, timeout: budgetMs }, () => {
  const results = mkdtempSync(join(tmpdir(), 'hako-conformance-'));
  try {
    const filter = `^(${testNames.join('|')})$`;
    const run = spawnSync('bash', [join(dir, 'run.sh'), join(dir, 'runtimes', 'hako.sh'), filter], {
      encoding: 'utf8',
      env: { ...process.env, CONFORMANCE_RESULTS: results, CONFORMANCE_TIMEOUT: String(perTestTimeoutS) },
      timeout: budgetMs - 10_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const resultsFile = join(results, 'results.tsv');
    assert.ok(existsSync(resultsFile), `run.sh wrote no results (exit ${run.status}): ${run.stderr}`);
    const got = new Map(readRows(resultsFile).map((r) => [`${r.kind}\t${r.name}`, r]));
    const failures: string[] = [];
    for (const want of baseline) {
      if (want.result !== 'pass') continue;
      const have = got.get(`${want.kind}\t${want.name}`);
      if (have?.result === 'pass') continue;
      const testName = want.name.split('#')[0] ?? want.name;
      const label = want.kind === 'test' ? want.name : `${want.name} (${want.description})`;
      let detail = '';
      if (want.kind === 'test') {
        const errFile = join(results, `${testName}.stderr`);
        const tapFile = join(results, `${testName}.tap`);
        const text = [existsSync(errFile) ? readFileSync(errFile, 'utf8') : '', existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '']
          .join('\n').trim().split('\n').slice(0, 8).join('\n      ');
        detail = text ? `\n      ${text}` : '';
      }
      failures.push(`${want.kind} ${label}: runc pass, hako ${have?.result ?? 'missing'}${detail}`);
    }
    assert.equal(failures.length, 0, `hako fails ${failures.length} of runc's passing tests/subtests:\n  ${failures.join('\n  ')}\n\n${run.stdout}`);
  } finally {
    rmSync(results, { recursive: true, force: true });
  }
});
