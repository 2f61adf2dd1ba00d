// node:https for the CLI's TLS hosts only. The CLI's bundle runs in a vm.Script, where import()
// of a builtin fails (no dynamic import callback); import() of this module becomes a lazy
// initialiser in the bundle, so TLS costs start-up only when it is used.
export { request } from 'node:https';
