import { setDefaultTimeout } from 'bun:test';

// Tests build their config explicitly; this only keeps a stray loadConfig() from reading production defaults.
process.env.APP_ENV ??= 'test';

// Several tests start real processes (the API, Postgres, Caddy); five seconds is too tight on a busy machine.
// Bun 1.4.5 applies this to the first test file of a run only: a run of several files needs `--timeout 30000`
// on the command line, as .ci/run passes it.
setDefaultTimeout(30_000);
