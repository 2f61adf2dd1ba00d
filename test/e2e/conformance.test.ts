// The OCI runtime-tools validation suite against hako's runtime: every test and subtest that runc
// 1.1.5 passes on this machine kind (conformance/runc-baseline.txt) must pass for hako too.
// Needs root and the suite (built by `bash conformance/build.sh`, which this test runs when the
// binaries are missing); skips, saying why, when the suite's source is not on this machine.
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
/** build.sh's exit status when the suite's source is not on this machine. */
const NO_SOURCE = 3;

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

/** A subtest's description without what changes from run to run (temp names, UUIDs). */
function normalized(description: string): string {
  return description.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'U').replace(/[0-9]+/g, 'N');
}

/**
 * Rows keyed like compare.sh does: a test by its name; a subtest by its test, its description
 * (normalized) and which occurrence of that description it is, not by its position, because
 * runtimetest walks Go maps (default symlinks, filesystems) in an order that changes every run.
 */
function keyed(rows: Row[]): Map<string, Row> {
  const seen = new Map<string, number>();
  const out = new Map<string, Row>();
  for (const r of rows) {
    if (r.kind === 'test') {
      out.set(`test\t${r.name}`, r);
      continue;
    }
    const base = `${r.name.replace(/#[0-9]+$/, '')}\t${normalized(r.description)}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    out.set(`subtest\t${base}\t${n}`, r);
  }
  return out;
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(baselineFile)) return `${baselineFile} is missing`;
  if (!readRows(baselineFile).some((r) => r.result === 'pass')) {
    return 'conformance/runc-baseline.txt records no passing test (run `bash conformance/compare.sh --update-baseline`)';
  }
  return undefined;
}

const skip = whyNot();
const baseline = skip ? new Map<string, Row>() : new Map([...keyed(readRows(baselineFile))].filter(([, r]) => r.result === 'pass'));
// A test runs if runc passes it or any of its subtests.
const testNames = [...new Set([...baseline.values()].map((r) => r.name.split('#')[0] ?? r.name))].sort();
// Upper bound: the build (when needed), then every test may hit run.sh's per-test timeout twice
// (a failing test is run once more, see below), plus cleanup.
const budgetMs = (300 + 2 * testNames.length * (perTestTimeoutS + 15) + 60) * 1000;

function runSuite(filterNames: string[], results: string): ReturnType<typeof spawnSync> {
  return spawnSync('bash', [join(dir, 'run.sh'), join(dir, 'runtimes', 'hako.sh'), `^(${filterNames.join('|')})$`], {
    encoding: 'utf8',
    env: { ...process.env, CONFORMANCE_RESULTS: results, CONFORMANCE_TIMEOUT: String(perTestTimeoutS) },
    timeout: budgetMs / 2,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The baseline rows hako does not pass in `results`, each as a line of explanation. */
function failuresIn(results: string, names: Set<string>): { failed: Set<string>; lines: string[] } {
  const resultsFile = join(results, 'results.tsv');
  const got = existsSync(resultsFile) ? keyed(readRows(resultsFile)) : new Map<string, Row>();
  const failed = new Set<string>();
  const lines: string[] = [];
  for (const [key, want] of baseline) {
    const testName = want.name.split('#')[0] ?? want.name;
    if (!names.has(testName)) continue;
    const have = got.get(key);
    if (have?.result === 'pass') continue;
    const why = `runc pass, hako ${have?.result ?? 'missing'}`;
    failed.add(testName);
    const label = want.kind === 'test' ? want.name : `${want.name} (${want.description})`;
    let detail = '';
    if (want.kind === 'test') {
      const read = (ext: string) => {
        const f = join(results, `${testName}.${ext}`);
        return existsSync(f) ? readFileSync(f, 'utf8').split('\n') : [];
      };
      const text = [...read('stderr').filter((l) => l.trim() !== '').slice(0, 4), ...read('tap').filter((l) => l.startsWith('not ok')).slice(0, 6)]
        .join('\n      ');
      detail = text ? `\n      ${text}` : '';
    }
    lines.push(`${want.kind} ${label}: ${why}${detail}`);
  }
  return { failed, lines };
}

test('OCI runtime-tools validation suite: hako passes what runc passes', { skip, timeout: budgetMs }, (t) => {
  if (!existsSync(join(binDir, 'runtimetest'))) {
    if (process.env.CONFORMANCE_BIN !== undefined) assert.fail(`${binDir}/runtimetest is missing`);
    const build = spawnSync('bash', [join(dir, 'build.sh')], { encoding: 'utf8', timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    if (build.status === NO_SOURCE) {
      t.skip("the OCI validation suite's source is not on this machine: conformance/build.sh exits 3 (Debian ships only runtime-tools' library; see conformance/README.md)");
      return;
    }
    assert.equal(build.status, 0, `conformance/build.sh failed (exit ${build.status}):\n${build.stderr}`);
  }
  const results = mkdtempSync(join(tmpdir(), 'hako-conformance-'));
  const retry = mkdtempSync(join(tmpdir(), 'hako-conformance-retry-'));
  try {
    const run = runSuite(testNames, results);
    assert.ok(existsSync(join(results, 'results.tsv')), `run.sh wrote no results (exit ${run.status}): ${run.stderr}`);
    const first = failuresIn(results, new Set(testNames));
    // Some suite tests race the container's exit (see conformance/README.md, "Flaky tests"): a test
    // that fails is run once more, and only a second failure counts. Both runs are reported.
    let final = first;
    if (first.failed.size > 0) {
      runSuite([...first.failed], retry);
      final = failuresIn(retry, first.failed);
      const recovered = [...first.failed].filter((n) => !final.failed.has(n));
      if (recovered.length > 0) t.diagnostic(`passed when run again: ${recovered.join(', ')} (first run:\n  ${first.lines.join('\n  ')})`);
    }
    assert.equal(final.lines.length, 0, `hako fails ${final.lines.length} of runc's passing tests/subtests (twice):\n  ${final.lines.join('\n  ')}\n\n${String(run.stdout)}`);
  } finally {
    rmSync(results, { recursive: true, force: true });
    rmSync(retry, { recursive: true, force: true });
  }
});
