import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';

// No Docker engine here: docker/Dockerfile and .dockerignore are held to the invariants that matter, as text.

const repoRoot = new URL('../..', import.meta.url).pathname;
const dockerfile = (await Bun.file(join(repoRoot, 'docker/Dockerfile')).text()).replace(/\\\n\s*/g, ' ');
const dockerignore = await Bun.file(join(repoRoot, '.dockerignore')).text();
const packageJson = await Bun.file(join(repoRoot, 'package.json')).json();

/** The instructions of one stage (`FROM … AS name` up to the next FROM), continuation lines joined. */
const stage = (name: string) => {
  const body = dockerfile.split(/^FROM /m).find((part) => part.split('\n')[0]?.endsWith(` AS ${name}`));
  if (!body) throw new Error(`no stage ${name}`);
  return body;
};
const last = (text: string, keyword: string) =>
  [...text.matchAll(new RegExp(`^${keyword} (.*)$`, 'gm'))].at(-1)?.[1];

describe('docker/Dockerfile', () => {
  test('builds on oven/bun at the Bun version package.json pins (packageManager)', () => {
    const pinned = packageJson.packageManager.replace(/^bun@/, '');
    expect(dockerfile).toMatch(new RegExp(`^ARG BUN_VERSION=${pinned.replaceAll('.', '\\.')}$`, 'm'));
    const bases = [...dockerfile.matchAll(/^FROM oven\/bun:(\S+)/gm)].map((m) => m[1]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile ARG syntax, not a template.
    expect(new Set(bases)).toEqual(new Set(['${BUN_VERSION}-slim']));
    expect(packageJson.engines.bun).toBe(`>=${pinned}`);
  });

  test('installs production dependencies only, from the frozen lockfile', () => {
    expect(last(stage('deps'), 'RUN')).toBe('bun install --frozen-lockfile --production --ignore-scripts');
  });

  test('runs as an unprivileged numeric user, needing no writable path but a /tmp tmpfs', () => {
    for (const name of ['runtime', 'backup'])
      expect(last(stage(name), 'USER')).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(last(stage('runtime'), 'ENV')).toMatch(
      /(?=.*\bHOME=\/tmp\b)(?=.*\bTMPDIR=\/tmp\b)(?=.*\bBUN_RUNTIME_TRANSPILER_CACHE_PATH=0\b)/,
    );
  });

  test('execs Bun as PID 1 with SIGTERM, so the graceful drain runs on docker stop', () => {
    const runtime = stage('runtime');
    expect(last(runtime, 'STOPSIGNAL')).toBe('SIGTERM');
    expect(JSON.parse(last(runtime, 'CMD') ?? 'null')).toEqual(['bun', 'src/index.ts']);
    // The last stage is the runtime unchanged, so a build without --target is the API.
    expect(dockerfile.trimEnd().split('\n').at(-1)).toBe('FROM runtime');
  });
});

test('.dockerignore lets in only what the image runs, and never a secret or a test', async () => {
  const rules = dockerignore.split('\n').filter((line) => line.trim() && !line.startsWith('#'));
  expect(rules[0]).toBe('*');
  const allowed = rules.filter((rule) => rule.startsWith('!'));
  expect(allowed.sort()).toEqual([
    '!bun.lock',
    '!drizzle/',
    '!package.json',
    '!patches/',
    '!src/',
    '!tsconfig.json',
  ]);
  expect(rules).toEqual(expect.arrayContaining(['**/*.test.ts', '**/.env*', '**/*.pem', '**/*.key']));
  // Every file the Dockerfile copies is let in.
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.*) \S+$/gm)].flatMap(
    (m) => m[1]?.split(' ') ?? [],
  );
  for (const path of copied)
    expect(allowed).toContain(`!${path.replace(/\/?$/, path.includes('.') ? '' : '/')}`);
});
