// The commands' shebang passes V8 `--no-rehash-snapshot` (see bin/hako-runtime.cjs for what it
// saves). Any V8 flag also changes V8's flag hash, and with it Node's own code cache of its
// built-in modules is rejected: every built-in loaded after start-up (streams, net, vm…: ~30 for
// a `run`) would be compiled from source, which costs more than the flag saves. The flag has done
// its work once the isolate exists (it is read when the snapshot is deserialised), so its default
// is restored first thing, before any other built-in is loaded, and the hash matches again.
'use strict';

function restoreRehashDefault() {
  if (!process.execArgv.includes('--no-rehash-snapshot')) return;
  // require('v8') would load the streams first (for its heap-snapshot streams), all compiled
  // without the cache; the binding under it loads nothing. Reading it through process.binding
  // is runtime-deprecated (DEP0111), so the warning is held back for this one access.
  let binding;
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    binding = process.binding('v8');
  } catch {
    /* a Node without it: the public module, slower but the same */
  } finally {
    process.noDeprecation = quiet;
  }
  (typeof binding?.setFlagsFromString === 'function' ? binding : require('node:v8')).setFlagsFromString('--rehash-snapshot');
}

module.exports = { restoreRehashDefault };
