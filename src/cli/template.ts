// The CLI's --format templates: the shared Go text/template subset (src/common/go-template.ts).
export { Template, TemplateError, goString, builtinFuncs, type TemplateOptions } from '../common/go-template.js';
