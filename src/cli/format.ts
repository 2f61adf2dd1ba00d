// Output formatting like docker's formatter package: `table` (aligned with Go's tabwriter,
// minwidth 10, padding 3), `table TEMPLATE`, `json`, or a raw Go template per item.
import { Template, TemplateError } from './template.js';

/** Display width of a string (wide East Asian characters count 2; good enough for names). */
function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    w += c >= 0x1100 && (c <= 0x115f || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xff60) || (c >= 0x1f300 && c <= 0x1faff)) ? 2 : 1;
  }
  return w;
}

/**
 * Go's text/tabwriter with (minwidth 10, tabwidth 1, padding 3, ' ', 0): cells terminated by a
 * tab are aligned in columns; a column's width is computed over each block of consecutive lines
 * that have that column; the trailing cell of a line is not aligned.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n');
  const trailingNewline = lines[lines.length - 1] === '';
  if (trailingNewline) lines.pop();
  const cells = lines.map((l) => l.split('\t'));
  const widths: number[][] = cells.map((c) => new Array(Math.max(0, c.length - 1)).fill(0));
  const maxCols = Math.max(0, ...cells.map((c) => c.length - 1));
  for (let col = 0; col < maxCols; col++) {
    let i = 0;
    while (i < cells.length) {
      if (cells[i]!.length - 1 <= col) {
        i++;
        continue;
      }
      let j = i;
      let w = 0;
      while (j < cells.length && cells[j]!.length - 1 > col) {
        w = Math.max(w, width(cells[j]![col]!) + padding);
        j++;
      }
      w = Math.max(w, minwidth);
      for (let k = i; k < j; k++) widths[k]![col] = w;
      i = j;
    }
  }
  const out = cells.map((c, li) => c.map((cell, ci) => (ci < c.length - 1 ? cell + ' '.repeat(Math.max(0, widths[li]![ci]! - width(cell))) : cell)).join(''));
  return out.join('\n') + (trailingNewline ? '\n' : '');
}

/** Replaces docker's escapes in --format strings (`\t`, `\n`). */
function unescape(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

export function isTable(format: string | undefined): boolean {
  return !format || format === 'table' || format.startsWith('table ');
}

export function parseTemplate(text: string): Template {
  try {
    return Template.parse(text);
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`failed to parse template: ${e.message}`);
    throw e;
  }
}

export class FormatError extends Error {}

/**
 * Renders items with a docker --format value. `defaultTable` is the table template (without
 * the `table ` prefix); `header` maps field names to column titles.
 */
export function renderList(format: string | undefined, defaultTable: string, items: object[], header: Record<string, unknown>): string {
  let fmt = format ?? '';
  if (fmt === '' || fmt === 'table') fmt = `table ${defaultTable}`;
  if (fmt === 'json') fmt = '{{json .}}';
  const table = fmt.startsWith('table');
  const body = unescape(table ? fmt.slice(5).trim() : fmt.replace(/^ +| +$/g, ''));
  const tpl = parseTemplate(body);
  let out = '';
  try {
    if (table) out += tpl.execute(header) + '\n';
    for (const it of items) out += tpl.execute(it) + '\n';
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template: ${e.message.replace(/^template: /, '')}`);
    throw e;
  }
  return table ? tabwrite(out) : out;
}

/** docker's Ellipsis: cut to `max` display columns, ending with `…`. */
export function ellipsis(s: string, max: number): string {
  if (width(s) <= max) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = width(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…';
}

/** Go's strconv.Quote for printable text. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}

export function shortId(id: string): string {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}
