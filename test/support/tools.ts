/**
 * For a test that drives a real program (Caddy, Chromium, promtool, pg_dump…): whether to skip it because one is
 * not installed. `found` maps each program's name to what the lookup returned (Bun.which, say). Outside CI a
 * missing program prints why and the caller skips; with `CI` set it throws, which fails the test file: .ci/run
 * installs every such program, so a skip there would pass a check that never ran.
 *
 * Not for a test that needs a real Postgres (DATABASE_URL): that skip is expected on the embedded pass.
 */
export function missingTools(subject: string, found: Record<string, unknown>): boolean {
  const missing = Object.keys(found).filter((name) => !found[name]);
  if (missing.length === 0) return false;
  const reason = `${subject}: ${missing.join(', ')} not installed (.ci/run installs it)`;
  if (process.env.CI) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
  console.warn(`[skip] ${reason}`);
  return true;
}
