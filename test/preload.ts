import { setDefaultTimeout } from 'bun:test';

// Tests build their config explicitly; this only keeps a stray loadConfig() from reading production defaults.
process.env.APP_ENV ??= 'test';

// Several tests start real processes (the API, Postgres, Caddy); five seconds is too tight on a busy machine.
setDefaultTimeout(30_000);
