// node:http for the CLI's TCP hosts only (unix sockets go through ../wire.ts). The bundle runs in
// a vm.Script, where import() of a builtin fails (no dynamic import callback); import() of this
// module becomes a lazy initialiser in the bundle, so node:http costs start-up only when used.
import * as http from 'node:http';
export { http };
