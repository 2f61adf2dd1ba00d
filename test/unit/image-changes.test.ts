// `--change` (import, commit): docker's Dockerfile subset. Expected configs and error texts are
// what dockerd 20.10 answered for the same changes (docker import -c …), except where docker ≥ 25
// differs (HEALTHCHECK --start-interval, --retries=0 and zero durations are allowed there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges, changeLines, expandWord, exposedPorts, parseGoDuration, parseHealthcheck } from '../../src/image/changes.js';

const applied = (changes: string[], base: Record<string, unknown> = {}): Record<string, unknown> => {
  const cfg = { ...base };
  applyChanges(cfg, changes);
  return cfg;
};
const fails = (changes: string[], message: string): void => {
  assert.throws(() => applied(changes), (e: Error) => e.message === message, `${JSON.stringify(changes)} → ${message}`);
};
const s = 1_000_000_000;

test('HEALTHCHECK: flags in nanoseconds, CMD exec and shell forms, NONE', () => {
  assert.deepEqual(parseHealthcheck('--interval=5s --timeout=3s --start-period=2s --retries=4 CMD echo hi'), { Test: ['CMD-SHELL', 'echo hi'], Interval: 5 * s, Timeout: 3 * s, StartPeriod: 2 * s, Retries: 4 });
  assert.deepEqual(parseHealthcheck('CMD ["/bin/true","x"]'), { Test: ['CMD', '/bin/true', 'x'] });
  assert.deepEqual(parseHealthcheck('--interval=1.5s CMD ["a", "b"]'), { Test: ['CMD', 'a', 'b'], Interval: 1.5 * s });
  assert.deepEqual(parseHealthcheck('--start-interval=250ms --timeout=1m30s CMD x'), { Test: ['CMD-SHELL', 'x'], Timeout: 90 * s, StartInterval: 250_000_000 });
  assert.deepEqual(parseHealthcheck('NONE'), { Test: ['NONE'] });
  assert.deepEqual(parseHealthcheck('--start-period=1s NONE'), { Test: ['NONE'] });
  assert.deepEqual(parseHealthcheck('--interval=0s --retries=0 CMD x'), { Test: ['CMD-SHELL', 'x'] }, 'zero means the default (docker ≥ 25)');
  assert.deepEqual(applied(['healthcheck cmd echo hi']), { Healthcheck: { Test: ['CMD-SHELL', 'echo hi'] } });
});

test('HEALTHCHECK errors: docker’s texts', () => {
  fails(['HEALTHCHECK'], 'HEALTHCHECK requires at least one argument');
  fails(['HEALTHCHECK CMD'], 'Missing command after HEALTHCHECK CMD');
  fails(['HEALTHCHECK CMD []'], 'Missing command after HEALTHCHECK CMD');
  fails(['HEALTHCHECK NONE x'], 'HEALTHCHECK NONE takes no arguments');
  fails(['HEALTHCHECK FOO x'], 'Unknown type "FOO" in HEALTHCHECK (try CMD)');
  fails(['HEALTHCHECK CMD-SHELL x'], 'Unknown type "CMD-SHELL" in HEALTHCHECK (try CMD)');
  fails(['HEALTHCHECK --bogus=1 CMD x'], 'Unknown flag: bogus');
  fails(['HEALTHCHECK --interval CMD x'], 'Missing a value on flag: interval');
  fails(['HEALTHCHECK --interval=2s --interval=3s CMD x'], 'Duplicate flag specified: interval');
  fails(['HEALTHCHECK --interval=abc CMD x'], 'time: invalid duration "abc"');
  fails(['HEALTHCHECK --interval=5 CMD x'], 'time: missing unit in duration "5"');
  fails(['HEALTHCHECK --interval=0.5ms CMD x'], 'Interval "interval" cannot be less than 1ms');
  fails(['HEALTHCHECK --interval=-1s CMD x'], 'Interval "interval" cannot be less than 1ms');
  fails(['HEALTHCHECK --timeout=500us CMD x'], 'Interval "timeout" cannot be less than 1ms');
  fails(['HEALTHCHECK --retries=abc CMD x'], 'strconv.ParseInt: parsing "abc": invalid syntax');
  fails(['HEALTHCHECK --retries=-2 CMD x'], '--retries cannot be negative (-2)');
});

test('Go durations', () => {
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('1h2m3.5s'), 3723.5 * s);
  assert.equal(parseGoDuration('300us'), 300_000);
  assert.equal(parseGoDuration('.5s'), 0.5 * s);
  assert.throws(() => parseGoDuration('5x'), /time: unknown unit "x" in duration "5x"/);
  assert.throws(() => parseGoDuration(''), /time: invalid duration ""/);
  assert.throws(() => parseGoDuration('s'), /time: invalid duration "s"/);
});

test('every other instruction: the config dockerd makes', () => {
  assert.deepEqual(applied(['CMD a', 'ENV B=1']), { Cmd: ['/bin/sh', '-c', 'a'], Env: ['B=1'] });
  assert.deepEqual(applied(['CMD a\nENV B=1']), { Cmd: ['/bin/sh', '-c', 'a'], Env: ['B=1'] }, 'one change may hold several lines');
  assert.deepEqual(applied(['CMD']), { Cmd: ['/bin/sh', '-c'] });
  assert.deepEqual(applied(['ENTRYPOINT ["a",']), { Entrypoint: ['/bin/sh', '-c', '["a",'], Cmd: null }, 'not JSON: the shell form');
  assert.deepEqual(applied(['ENTRYPOINT ["/ep"]'], { Cmd: ['old'] }), { Entrypoint: ['/ep'], Cmd: null }, 'ENTRYPOINT resets the inherited CMD');
  assert.deepEqual(applied(['CMD ["c"]', 'ENTRYPOINT ["/ep"]'], { Cmd: ['old'] }), { Entrypoint: ['/ep'], Cmd: ['c'] });
  assert.deepEqual(applied(['ENTRYPOINT'], { Entrypoint: ['x'] }), { Entrypoint: null, Cmd: null });
  assert.deepEqual(applied(['ENV A=$HOME/x B=${PATH:-/bin} C="$P q" D=\'$P\' E=\\$P', 'ENV F=${P:+set}'], { Env: ['P=p'] }), { Env: ['P=p', 'A=/x', 'B=/bin', 'C=p q', 'D=$P', 'E=$P', 'F=set'] });
  assert.deepEqual(applied(['ENV K value with spaces']), { Env: ['K=value with spaces'] });
  assert.deepEqual(applied(['EXPOSE 80-82/udp 90', 'EXPOSE 0', 'EXPOSE $PORT'], { Env: ['PORT=8080'] }), { Env: ['PORT=8080'], ExposedPorts: { '80/udp': {}, '81/udp': {}, '82/udp': {}, '90/tcp': {}, '0/tcp': {}, '8080/tcp': {} } });
  assert.deepEqual(applied(['LABEL "a b"="c d" e=f', 'LABEL legacy some text']), { Labels: { 'a b': 'c d', e: 'f', legacy: 'some text' } });
  assert.deepEqual(applied(['USER a b']), { User: 'a b' });
  assert.deepEqual(applied(['WORKDIR rel']), { WorkingDir: '/rel' });
  assert.deepEqual(applied(['WORKDIR /a', 'WORKDIR b/../c']), { WorkingDir: '/a/c' });
  assert.deepEqual(applied(['STOPSIGNAL SIGUSR1']), { StopSignal: 'SIGUSR1' });
  assert.deepEqual(applied(['STOPSIGNAL 9', 'STOPSIGNAL rtmin+3']), { StopSignal: 'rtmin+3' });
  assert.deepEqual(applied(['VOLUME ["/a", "/b"]', 'VOLUME /c /d']), { Volumes: { '/a': {}, '/b': {}, '/c': {}, '/d': {} } });
  assert.deepEqual(applied(['ONBUILD RUN x']), { OnBuild: ['RUN x'] });
  assert.deepEqual(applied(['# a comment', 'USER \\', '  nobody']), { User: 'nobody' });
});

test('errors: docker’s texts, and a failing list changes nothing', () => {
  fails(['RUN x'], 'run is not a valid change command');
  fails(['SHELL ["/bin/bash","-c"]'], 'shell is not a valid change command');
  fails(['MAINTAINER x'], 'maintainer is not a valid change command');
  fails(['FROM x'], 'from is not a valid change command');
  fails([' '], 'file with no instructions');
  fails(['# comment'], 'file with no instructions');
  fails(['ENV'], 'ENV requires at least one argument');
  fails(['ENV A'], 'ENV must have two arguments');
  fails(['ENV A=1 B'], 'Syntax error - can\'t find = in "B". Must be of the form: name=value');
  fails(['LABEL a'], 'LABEL must have two arguments');
  fails(['EXPOSE abc'], 'Invalid containerPort: abc');
  fails(['EXPOSE 80/xyz'], 'Invalid proto: xyz');
  fails(['EXPOSE 82-80'], 'Invalid containerPort: 82-80');
  fails(['VOLUME'], 'VOLUME requires at least one argument');
  fails(['STOPSIGNAL FOO'], 'Invalid signal: FOO');
  fails(['ONBUILD ONBUILD x'], 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
  fails(['ONBUILD FROM x'], 'FROM isn\'t allowed as an ONBUILD trigger');
  fails(['USER --x=1 root'], 'Unknown flag: x');
  const cfg = { Env: ['A=1'] };
  assert.throws(() => applyChanges(cfg, ['ENV A=2', 'RUN x']));
  assert.deepEqual(cfg, { Env: ['A=1'] }, 'nothing applied');
});

test('helpers: lines, words, ports', () => {
  assert.deepEqual(changeLines(['cmd a \\', 'b', '', 'env x=1']), [['CMD', 'a b'], ['ENV', 'x=1']]);
  assert.equal(expandWord('"a \\"b\\"" \'c\'', []), 'a "b" c');
  assert.deepEqual(exposedPorts(['53/UDP', '7-8/sctp']), ['53/udp', '7/sctp', '8/sctp']);
});
