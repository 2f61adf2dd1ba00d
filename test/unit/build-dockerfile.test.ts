// The Dockerfile parser and .dockerignore patterns (src/build): pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argDeclarations, checkFromPlatform, parseDockerfile, stepCount } from '../../src/build/dockerfile.js';
import { ignoreMatcher, parseDockerignore } from '../../src/build/dockerignore.js';
import { applyChange, expandWord, rawWords } from '../../src/image/changes.js';
import { goDuration, stepComment } from '../../src/build/comments.js';

test('instructions, comments, continuations, exec and shell forms, line numbers', () => {
  const df = parseDockerfile(
    [
      '# a comment',
      'from busybox AS Build',
      'RUN echo a \\',
      '  # a comment inside the continuation',
      '',
      '    && echo b',
      'CMD ["sh", "-c", "echo hi"]',
      'ENTRYPOINT echo [not json',
      '   COPY --chown=1:2 --from=x a b /dst/',
      'HEALTHCHECK --interval=5s CMD true',
      'FROM build',
      'COPY ["a b", "/c"]',
    ].join('\n'),
  );
  assert.equal(df.escape, '\\');
  assert.equal(df.stages.length, 2);
  const [s0, s1] = df.stages;
  assert.equal(s0!.name, 'build');
  assert.equal(s0!.base, 'busybox');
  assert.equal(s0!.from.line, 2);
  const [run, cmd, ep, copy, hc] = s0!.commands;
  assert.equal(run!.name, 'RUN');
  assert.equal(run!.line, 3);
  assert.equal(run!.args, 'echo a     && echo b', 'continuation lines keep their leading blanks');
  assert.equal(run!.json, undefined);
  assert.deepEqual(cmd!.json, ['sh', '-c', 'echo hi']);
  assert.equal(ep!.json, undefined);
  assert.equal(ep!.args, 'echo [not json');
  assert.deepEqual(Object.fromEntries(copy!.flags), { chown: '1:2', from: 'x' });
  assert.equal(copy!.args, 'a b /dst/');
  assert.equal(copy!.original, 'COPY --chown=1:2 --from=x a b /dst/');
  assert.equal(hc!.flags.get('interval'), '5s');
  assert.deepEqual(s1!.commands[0]!.json, ['a b', '/c']);
  assert.equal(stepCount(df), 8);
});

test('the escape directive, meta ARGs, ARG declarations', () => {
  const df = parseDockerfile('# escape=`\nARG V=1\nARG W\nFROM busybox:$V\nRUN dir c:\\ `\n  && echo x\n');
  assert.equal(df.escape, '`');
  assert.deepEqual(df.metaArgs.flatMap((i) => argDeclarations(i)), [{ name: 'V', value: '1' }, { name: 'W' }]);
  assert.equal(df.stages[0]!.commands[0]!.args, 'dir c:\\   && echo x');
  // A directive after the first instruction is a comment.
  assert.equal(parseDockerfile('FROM a\n# escape=`\nRUN x \\\n y').stages[0]!.commands[0]!.args, 'x  y');
});

test('errors name the line', () => {
  // dockerd 20.10's texts (checked against it).
  assert.throws(() => parseDockerfile('FROM busybox\n\nFOO bar\n'), { message: 'dockerfile parse error line 3: unknown instruction: FOO' });
  assert.throws(() => parseDockerfile('RUN x\n'), { message: 'no build stage in current context' });
  assert.throws(() => parseDockerfile('FROM a b\n'), { message: 'dockerfile parse error line 1: FROM requires either one or three arguments' });
  assert.throws(() => parseDockerfile('FROM a\nCOPY x\n'), { message: 'dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined' });
  assert.throws(() => parseDockerfile('FROM a\nCOPY --bogus=1 x y\n'), { message: 'dockerfile parse error line 2: Unknown flag: bogus' });
  assert.throws(() => parseDockerfile('FROM a\nSHELL /bin/bash\n'), { message: 'dockerfile parse error line 2: SHELL requires the arguments to be in JSON form' });
  assert.throws(() => parseDockerfile('FROM a AS x\nFROM b AS X\n'), { message: 'dockerfile parse error line 2: duplicate name x' });
  assert.throws(() => parseDockerfile('FROM a\nONBUILD ONBUILD RUN x\n'), /line 2: Chaining ONBUILD/);
  // Several ARGs in one, a quoted default kept whole (expanded later), as dockerd 20.10 takes them.
  assert.deepEqual(argDeclarations(parseDockerfile('ARG A="x y" B C=1\nFROM a\n').metaArgs[0]!), [{ name: 'A', value: '"x y"' }, { name: 'B' }, { name: 'C', value: '1' }]);
  assert.throws(() => parseDockerfile('# just a comment\n'), { message: 'failed to parse Dockerfile: file with no instructions' });
});

test('variable substitution as docker does', () => {
  const env = ['A=one', 'EMPTY=', 'SP=a b'];
  assert.equal(expandWord('$A', env), 'one');
  assert.equal(expandWord('${A}x', env), 'onex');
  assert.equal(expandWord('${NOPE:-dflt}', env), 'dflt');
  assert.equal(expandWord('${EMPTY:-dflt}', env), 'dflt');
  assert.equal(expandWord('${A:-dflt}', env), 'one');
  assert.equal(expandWord('${A:+set}', env), 'set');
  assert.equal(expandWord('${NOPE:+set}', env), '');
  assert.equal(expandWord("'$A'", env), '$A');
  assert.equal(expandWord('"$A $SP"', env), 'one a b');
  assert.equal(expandWord('\\$A', env), '$A');
});

test('.dockerignore: patterns, **, exceptions, parent directories', () => {
  const pats = parseDockerignore('# comment\n/secret*\n**/*.log\n!keep.log\n./build/\nnode_modules\n\n');
  assert.deepEqual(pats, ['secret*', '**/*.log', '!keep.log', 'build', 'node_modules']);
  const ignored = ignoreMatcher(pats);
  assert.equal(ignored('secret.txt'), true);
  assert.equal(ignored('a/secret.txt'), false, '* stays within one element');
  assert.equal(ignored('x.log'), true);
  assert.equal(ignored('a/b/c.log'), true);
  assert.equal(ignored('keep.log'), false);
  assert.equal(ignored('build/out/x'), true, 'a directory pattern covers what is beneath');
  assert.equal(ignored('node_modules/p/index.js'), true);
  assert.equal(ignored('src/index.js'), false);
  assert.equal(ignoreMatcher([])('anything'), false);
  assert.equal(ignoreMatcher(parseDockerignore('f?o\n[a-c]x'))('fxo'), true);
  assert.equal(ignoreMatcher(parseDockerignore('[a-c]x'))('bx'), true);
  assert.equal(ignoreMatcher(parseDockerignore('[a-c]x'))('dx'), false);
});

test('step comments as dockerd records them (Go %q lists, %v, the HealthConfig struct)', () => {
  const ins = (text: string) => parseDockerfile(`FROM x\n${text}`).stages[0]!.commands[0]!;
  const env = ['V=1'];
  assert.equal(stepComment(ins('ENV A=$V B="two words"'), {}, env), 'ENV A=1 B=two words');
  assert.equal(stepComment(ins('ENV legacy a value'), {}, env), 'ENV legacy=a value');
  assert.equal(stepComment(ins('LABEL "quoted key"=x'), {}, env), 'LABEL quoted key=x');
  assert.equal(stepComment(ins('CMD echo hi'), { Cmd: ['/bin/sh', '-c', 'echo hi'] }, env), 'CMD ["/bin/sh" "-c" "echo hi"]');
  assert.equal(stepComment(ins('ENTRYPOINT []'), { Entrypoint: null }, env), 'ENTRYPOINT []');
  assert.equal(stepComment(ins('VOLUME /a $V'), {}, env), 'VOLUME [/a 1]');
  assert.equal(stepComment(ins('VOLUME ["/a", "/b"]'), {}, env), 'VOLUME [/a /b]');
  assert.equal(stepComment(ins('USER $V'), {}, env), 'USER 1');
  assert.equal(stepComment(ins('EXPOSE 80 $V/udp'), {}, env), 'EXPOSE 80 1/udp');
  assert.equal(stepComment(ins('ONBUILD RUN x $V'), {}, env), 'ONBUILD RUN x $V');
  assert.equal(
    stepComment(ins('HEALTHCHECK --interval=90s CMD true'), { Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 90e9, Retries: 3 } }, env),
    `HEALTHCHECK &{["CMD-SHELL" "true"] "1m30s" "0s" "0s" '\\x03'}`,
  );
  assert.deepEqual([goDuration(0), goDuration(5e9), goDuration(500e6), goDuration(3600e9), goDuration(1500)], ['0s', '5s', '500ms', '1h0m0s', '1.5µs']);
});

test('# escape=`: continuations, word splitting and variable processing use the backtick (dockerd 20.10\'s results)', () => {
  // The Dockerfile dockerd 20.10.24 built; the values below are what it recorded.
  const text = [
    '# escape=`',
    'FROM busybox',
    'ENV A=C:\\foo B="x`"y`$z" C=a` b D=$A`$A E=${A}\\n',
    'WORKDIR C:\\work',
    'LABEL l="q`$x" m=p\\q',
    'ARG G=w`\\v',
    'RUN echo "$A|$B|$C|$D|$E|$G" > /out; pwd >> /out; echo cont`',
    '  inued >> /out',
    'COPY f`ile.txt b\\c /dst/',
  ].join('\n');
  const df = parseDockerfile(text);
  assert.equal(df.escape, '`');
  const [env, workdir, label, arg, run, copy] = df.stages[0]!.commands;
  const cfg: Record<string, unknown> = { Env: ['PATH=/bin'] };
  applyChange(cfg, 'ENV', env!.args, { cmdSet: false, escape: '`' });
  assert.deepEqual(cfg.Env, ['PATH=/bin', 'A=C:\\foo', 'B=x"y$z', 'C=a b', 'D=$A', 'E=\\n']);
  assert.equal(stepComment(env!, cfg, ['PATH=/bin'], '`'), 'ENV A=C:\\foo B=x"y$z C=a b D=$A E=\\n');
  applyChange(cfg, 'WORKDIR', workdir!.args, { cmdSet: false, escape: '`' });
  assert.equal(cfg.WorkingDir, '/C:\\work');
  applyChange(cfg, 'LABEL', label!.args, { cmdSet: false, escape: '`' });
  assert.deepEqual(cfg.Labels, { l: 'q$x', m: 'p\\q' });
  const [g] = argDeclarations(arg!, '`');
  assert.equal(expandWord(g!.value!, [], '`'), 'w\\v');
  assert.equal(run!.args, 'echo "$A|$B|$C|$D|$E|$G" > /out; pwd >> /out; echo cont  inued >> /out');
  assert.deepEqual(rawWords(copy!.args, '`').map((w) => expandWord(w, [], '`')), ['file.txt', 'b\\c', '/dst/']);
  // A backslash at the end of a line is no continuation then (dockerd: line 8's `echo` is an instruction).
  assert.throws(() => parseDockerfile('# escape=`\nFROM busybox\nRUN echo a \\\n  echo b\n'), { message: 'dockerfile parse error line 4: unknown instruction: ECHO' });
  // The default escape: the same words mean something else.
  assert.equal(expandWord('C:\\foo', []), 'C:foo');
  assert.equal(expandWord('"a\\"b\\$c\\d"', []), 'a"b$c\\d');
  assert.throws(() => expandWord('"a`"', [], '`'), /matching "/, 'an escaped closing quote leaves the quote open');
  assert.equal(expandWord('ab\\', []), 'ab', 'an escape at the end is dropped (shell.Lex)');
});

test('parser directives: escape and syntax only, the first other line ends them', () => {
  assert.equal(parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n').escape, '`');
  assert.equal(parseDockerfile('# ESCAPE = `\nFROM a\n').escape, '`');
  // An unknown directive is a comment and ends the directives (dockerd 20.10's parser).
  assert.equal(parseDockerfile('# foo=bar\n# escape=`\nFROM a\n').escape, '\\');
  assert.equal(parseDockerfile('\n# escape=`\nFROM a\n').escape, '\\');
  assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM a\n'), { message: 'only one escape parser directive can be used' });
  assert.throws(() => parseDockerfile('# escape=x\nFROM a\n'), { message: "invalid ESCAPE 'x'. Must be ` or \\" });
});

test('FROM --platform values checked as dockerd 20.10 (containerd\'s platforms.Parse)', () => {
  for (const ok of ['linux/arm64', 'linux/arm64/v8', 'windows/amd64', 'linux', 'arm64', 'aarch64', 'x86_64', 'foo/bar']) assert.equal(checkFromPlatform(ok), ok);
  // dockerd's text for `FROM --platform=bogus busybox`.
  assert.throws(() => checkFromPlatform('bogus'), { message: 'failed to parse platform bogus: "bogus": unknown operating system or architecture: invalid argument' });
  assert.throws(() => checkFromPlatform('linux/*'), { message: 'failed to parse platform linux/*: "linux/*": wildcards not yet supported: invalid argument' });
  assert.throws(() => checkFromPlatform(''), /platform specifier component must match/);
  assert.throws(() => checkFromPlatform('a/b/c/d'), /cannot parse platform specifier/);
});
