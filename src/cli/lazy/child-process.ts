// node:child_process for the few CLI commands that spawn (cp runs tar). Imported lazily for the
// same reason as ./https.ts: import() of a builtin fails in the bundle's vm.Script.
export { spawn } from 'node:child_process';
