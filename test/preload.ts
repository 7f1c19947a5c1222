// Tests build their config explicitly; this only keeps a stray loadConfig() from reading production defaults.
process.env.APP_ENV ??= 'test';
