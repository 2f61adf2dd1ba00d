// The shared Go text/template subset (src/common/go-template.ts) in the log tag's strict mode: what
// dockerd 20.10 made of each template in the lab (`docker run --log-opt tag=… ; docker logs
// --details`, over a logger.Info) and its error for each bad one, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template, TemplateError, goType } from '../../src/common/go-template.js';

// A logger.Info as the lab's container had it (name lt1, labels a=b c=d, `echo hi there`).
const info = {
  [goType]: '*logger.Info',
  Config: { tag: 'x' },
  ContainerID: '3071b7e3a282f49085be4516d9c3ebeddd34ff2b2fd15b1562bbdeb1792f6938',
  ContainerName: '/lt1',
  ContainerEntrypoint: 'echo',
  ContainerArgs: ['hi', 'there'],
  ContainerLabels: { a: 'b', c: 'd' },
  ContainerEnv: ['FOO=bar', 'PATH=/bin'],
  DaemonName: 'docker',
  ID: () => '3071b7e3a282',
  Name: () => 'lt1',
  ImageName: () => 'busybox',
  Command: () => 'echo hi there',
  ExtraAttributes: () => ({}),
};
const run = (src: string, data: unknown = info) => Template.parse(src, { name: 'log-tag', strict: true }).execute(data);
const failure = (src: string): string => {
  try {
    run(src);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `${src}: ${(e as Error).stack}`);
    return e.message;
  }
  assert.fail(`${src} did not fail`);
};

test('go-template: fields, methods, control and moby\'s and Go\'s functions give what dockerd\'s log tag gave', () => {
  const cases: Array<[string, string]> = [
    ['{{.ID}}/{{.Name}}/{{.ImageName}}/{{.DaemonName}}/{{.Command}}', '3071b7e3a282/lt1/busybox/docker/echo hi there'],
    ['{{if eq .Name "lt1"}}yes{{else}}no{{end}}', 'yes'],
    ['{{if ne .Name "lt1"}}a{{else if eq .DaemonName "docker"}}b{{end}}', 'b'],
    ['{{upper .Name}}-{{lower "ABC"}}-{{title "hello world"}}', 'LT1-abc-Hello World'],
    ['{{json .ContainerLabels}}|{{json .Name}}|{{json .ContainerArgs}}', '{"a":"b","c":"d"}|"lt1"|["hi","there"]'],
    ['{{join .ContainerArgs ","}}', 'hi,there'],
    ['{{split .Name "t"}}', '[l 1]'],
    ['[{{pad .Name 2 3}}]', '[  lt1   ]'],
    ['{{truncate .ContainerID 5}}|{{truncate .Name 50}}', '3071b|lt1'],
    ['{{printf "%s-%d-%q-%v-%5s|%-4s|%x" .Name 5 .Name .ContainerArgs "ab" "c" 255}}', 'lt1-5-"lt1"-[hi there]-   ab|c   |ff'],
    ['{{index .ContainerLabels "a"}}|{{index .ContainerArgs 1}}|{{len .ContainerArgs}}|{{len .Name}}', 'b|there|2|3'],
    ['{{.ContainerArgs}}|{{.ContainerName}}|{{.ContainerLabels}}|{{.ContainerEntrypoint}}', '[hi there]|/lt1|map[a:b c:d]|echo'],
    ['{{.ContainerEnv}}', '[FOO=bar PATH=/bin]'],
    ['{{.Config}}', 'map[tag:x]'],
    ['{{range .ContainerArgs}}[{{.}}]{{end}}{{range $i, $v := .ContainerArgs}}{{$i}}={{$v}};{{end}}', '[hi][there]0=hi;1=there;'],
    ['{{with .Name}}{{.}}{{end}}{{$n := .Name}}<{{$n}}>', 'lt1<lt1>'],
    ['{{.Name | upper | printf "%s!"}}', 'LT1!'],
    ['{{- .Name -}} x {{- .ID}}', 'lt1x3071b7e3a282'],
    ['{{and .Name .ID}}|{{or "" .Name}}|{{not .Name}}|{{print .Name 1 2 "x"}}|{{println .Name}}', '3071b7e3a282|lt1|false|lt11 2x|lt1\n'],
    ['{{/* comment */}}c', 'c'],
    ['{{html "<a>"}}|{{js "a\'b"}}|{{urlquery "a b&"}}', "&lt;a&gt;|a\\'b|a+b%26"],
    ['{{slice .Name 1 2}}|{{lt 1 2}}|{{eq .Name "x" "lt1"}}', 't|true|true'],
    ['{{range .ContainerLabels}}{{.}}{{end}}|{{range $k, $v := .ContainerLabels}}{{$k}}:{{$v}}{{end}}', 'bd|a:bc:d'],
    ['{{.ExtraAttributes nil}}', 'map[]'],
    ['{{ .ContainerLabels.a }}|{{.ContainerLabels.zz}}', 'b|<no value>'],
    ['{{index .Name 1}}', '116'],
  ];
  for (const [src, want] of cases) assert.equal(run(src), want, src);
});

test('go-template: bad templates fail in Go\'s words: parse errors by line, execution errors by line:column (bytes) and node', () => {
  const cases: Array<[string, string]> = [
    ['{{nosuch .Name}}', 'template: log-tag:1: function "nosuch" not defined'],
    ['{{if}}x{{end}}', 'template: log-tag:1: missing value for if'],
    ['{{if .Name}}x', 'template: log-tag:1: unexpected EOF'],
    ['{{truncate .Name "x"}}', 'template: log-tag:1:17: executing "log-tag" at <"x">: expected integer; found "x"'],
    ['{{index .ContainerArgs 5}}', 'template: log-tag:1:2: executing "log-tag" at <index .ContainerArgs 5>: error calling index: index out of range: 5'],
    ['{{.Name.Foo}}', 'template: log-tag:1:7: executing "log-tag" at <.Name.Foo>: can\'t evaluate field Foo in type string'],
    ['{{end}}', 'template: log-tag:1: unexpected {{end}}'],
    ['{{template "x"}}', 'template: log-tag:1:11: executing "log-tag" at <{{template "x"}}>: template "x" not defined'],
    ['{{json}}', 'template: log-tag:1:2: executing "log-tag" at <json>: wrong number of args for json: want 1 got 0'],
    ['{{.Nosuch}}', 'template: log-tag:1:2: executing "log-tag" at <.Nosuch>: can\'t evaluate field Nosuch in type *logger.Info'],
    ['{{.Nosuch.More}}', 'template: log-tag:1:9: executing "log-tag" at <.Nosuch.More>: can\'t evaluate field Nosuch in type *logger.Info'],
    ['{{split}}', 'template: log-tag:1:2: executing "log-tag" at <split>: wrong number of args for split: want 2 got 0'],
    ['{{pad .Name}}', 'template: log-tag:1:2: executing "log-tag" at <pad>: wrong number of args for pad: want 3 got 1'],
    ['{{upper 5}}', 'template: log-tag:1:8: executing "log-tag" at <5>: expected string; found 5'],
    ['{{eq .Name 1}}', 'template: log-tag:1:2: executing "log-tag" at <eq .Name 1>: error calling eq: incompatible types for comparison'],
    ['{{lt .Name 1}}', 'template: log-tag:1:2: executing "log-tag" at <lt .Name 1>: error calling lt: incompatible types for comparison'],
    ['{{printf}}', 'template: log-tag:1:2: executing "log-tag" at <printf>: wrong number of args for printf: want at least 1 got 0'],
    ['{{"unterminated}}', 'template: log-tag:1: unterminated quoted string'],
    ['{{.Name', 'template: log-tag:1: unclosed action'],
    ['{{len 3}}', 'template: log-tag:1:2: executing "log-tag" at <len 3>: error calling len: len of type int'],
    // not from the lab: the column of a later line, and a value of the wrong type
    ['a\nb {{.Nosuch}}', 'template: log-tag:2:4: executing "log-tag" at <.Nosuch>: can\'t evaluate field Nosuch in type *logger.Info'],
    ['{{upper .ContainerArgs}}', 'template: log-tag:1:8: executing "log-tag" at <.ContainerArgs>: wrong type for value; expected string; got []string'],
  ];
  for (const [src, want] of cases) assert.equal(failure(src), want, src);
});

test('go-template: the CLI\'s lenient mode (no name, no signature checks) is unchanged', () => {
  assert.equal(Template.parse('{{upper 5}}|{{pad .A 1}}').execute({ A: 'x' }), '5| x');
  assert.equal(Template.parse('{{.Nosuch}}').execute({}), '<no value>');
  assert.throws(() => Template.parse('{{index .A 3}}').execute({ A: [1] }), (e: TemplateError) => e.message === 'template: :1:2: executing "" at <index .A 3>: error calling index: index out of range: 3');
});

test('go-template: define, block and template as Go\'s text/template (the docker CLI 28\'s --format in the lab)', () => {
  const cli = (src: string, data: unknown = { Os: 'linux' }) => Template.parse(src).execute(data);
  const cases: Array<[string, string]> = [
    ['{{define "x"}}[{{.Os}}]{{end}}{{template "x" .}}', '[linux]'],
    // no pipeline: no data
    ['{{define "x"}}[{{.}}]{{end}}{{template "x"}}', '[<no value>]'],
    ['{{block "x" .}}B{{.Os}}{{end}}', 'Blinux'],
    // an empty definition gives way to a later one, whichever comes first
    ['{{define "x"}}{{end}}{{define "x"}}b{{end}}{{template "x"}}', 'b'],
    ['{{block "x" .}}{{end}}{{define "x"}}D{{end}}', 'D'],
    // $ is the called template's data; a definition alone prints nothing
    ['{{define "x"}}{{$}}{{end}}{{$a := 1}}{{template "x" 5}}', '5'],
    ['{{define "x"}}A{{end}}', ''],
    // a template called before its definition, recursion that ends, trim markers
    ['{{template "r" .L}}{{define "r"}}{{len .}}{{if gt (len .) 1}},{{template "r" (slice . 1)}}{{end}}{{end}}', '2,1'],
    ['a {{- define "t" -}} x {{- end -}} b{{template "t"}}', 'abx'],
    ['{{define "x"}}{{range .}}<{{template "y" .}}>{{end}}{{end}}{{define "y"}}{{.}}!{{end}}{{template "x" .L}}', '<1!><2!>'],
  ];
  for (const [src, want] of cases) assert.equal(cli(src, { Os: 'linux', L: [1, 2] }), want, src);
  const failures: Array<[string, string]> = [
    ['{{block "x"}}B{{end}}', 'template: :1: missing value for block clause'],
    ['{{define "x"}}a{{end}}{{define "x"}}b{{end}}{{template "x"}}', 'template: :1: template: multiple definition of template "x"'],
    ['{{if true}}{{define "x"}}a{{end}}{{end}}', 'template: :1: unexpected <define> in command'],
    ['{{define x}}a{{end}}', 'template: :1: unexpected "x" in define clause'],
    ['{{define "x"}}a{{else}}b{{end}}', 'template: :1: unexpected {{else}} in define clause'],
    ['{{define "x"}}a', 'template: :1: unexpected EOF'],
    ['{{define "x" "y"}}a{{end}}', 'template: :1: unexpected "\\"y\\"" in define clause'],
    ['{{template x}}', 'template: :1: unexpected "x" in template clause'],
    ['{{template "y" .}}', 'template: :1:11: executing "" at <{{template "y" .}}>: template "y" not defined'],
    // the executing template's name, the position in the whole text
    ['{{define "x"}}{{index .L 7}}{{end}}{{template "x" .}}', 'template: :1:16: executing "x" at <index .L 7>: error calling index: index out of range: 7'],
    ['{{define "x"}}{{$a}}{{end}}{{$a := 1}}{{template "x" 5}}', 'template: :1: undefined variable "$a"'],
    // Go stops at 100000 calls deep; here at 1000 (each call takes JS frames)
    ['{{define "x"}}{{template "x" .}}{{end}}{{template "x" .}}', 'template: :1:25: executing "x" at <{{template "x" .}}>: exceeded maximum template depth (1000)'],
  ];
  for (const [src, want] of failures) {
    assert.throws(() => cli(src, { Os: 'linux', L: [1, 2] }), (e: Error) => {
      assert.ok(e instanceof TemplateError, e.stack);
      assert.equal(e.message, want, src);
      return true;
    });
  }
  // the log tag (strict, named): a definition called with the logger's info
  assert.equal(run('{{define "n"}}{{.Name}}@{{.ImageName}}{{end}}{{template "n" .}}/{{block "i" .}}{{.ID}}{{end}}'), 'lt1@busybox/3071b7e3a282');
});
