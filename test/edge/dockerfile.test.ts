import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';

// No Docker engine here: docker/Dockerfile and .dockerignore are read as the builder would read them.

const repoRoot = new URL('../..', import.meta.url).pathname;
const dockerfile = await Bun.file(join(repoRoot, 'docker/Dockerfile')).text();
const dockerignore = await Bun.file(join(repoRoot, '.dockerignore')).text();
const packageJson = (await Bun.file(join(repoRoot, 'package.json')).json()) as { packageManager: string };

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions by stage: comments dropped, continuation lines joined, ARGs before the first FROM apart. */
function parseDockerfile(text: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const logical = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'FROM') {
      const [from = '', , name] = instruction.args.split(' ');
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      globalArgs.push(instruction);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

const { globalArgs, stages } = parseDockerfile(dockerfile);
const stage = (name: string) => {
  const found = stages.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
};
const all = (of: Stage, keyword: string) => of.instructions.filter((i) => i.keyword === keyword);
const last = (of: Stage, keyword: string) => all(of, keyword).at(-1)?.args;
/** Instructions a stage sees, its own after those of the stage it is built FROM. */
const effective = (of: Stage): Instruction[] => {
  const base = stages.find((candidate) => candidate.name === of.from);
  return [...(base ? effective(base) : []), ...of.instructions];
};

/** Docker's .dockerignore rules: the last matching pattern wins, `!` re-includes, a match covers a folder. */
function ignoredByDocker(path: string): boolean {
  const rules = dockerignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).replace(/^\/|\/$/g, '');
      const regex = pattern
        .split('/')
        .map((segment) =>
          segment === '**' ? '.*' : segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negated, regex: new RegExp(`^${regex}$`) };
    });
  const segments = path.split('/');
  const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = !rule.negated;
  }
  return ignored;
}

describe('docker/Dockerfile', () => {
  test('builds every stage on oven/bun slim at the Bun version the repository pins', () => {
    const bunVersion = packageJson.packageManager.replace('bun@', '');
    expect(globalArgs).toContainEqual({ keyword: 'ARG', args: `BUN_VERSION=${bunVersion}` });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile ARG syntax, not a template.
    const pinnedBase = 'oven/bun:${BUN_VERSION}-slim';
    expect(stage('deps').from).toBe(pinnedBase);
    expect(stage('runtime').from).toBe(pinnedBase);
  });

  test('installs production dependencies only, from the frozen lockfile, in a stage of their own', () => {
    const deps = stage('deps');
    expect(all(deps, 'COPY').map((i) => i.args)).toEqual(['package.json bun.lock ./']);
    expect(last(deps, 'RUN')).toBe('bun install --frozen-lockfile --production --ignore-scripts');
  });

  test('copies only what runs into the runtime image: dependencies, manifests, migrations and src', () => {
    expect(all(stage('runtime'), 'COPY').map((i) => i.args)).toEqual([
      '--from=deps /app/node_modules ./node_modules',
      'package.json bun.lock tsconfig.json ./',
      'drizzle ./drizzle',
      'src ./src',
    ]);
  });

  test('runs as an unprivileged numeric user', () => {
    for (const name of ['runtime', 'backup']) {
      const user = last(stage(name), 'USER') ?? 'root';
      expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    }
  });

  test('needs no writable path beyond a /tmp tmpfs: Bun transpiler cache off, HOME and TMPDIR on /tmp', () => {
    const env = all(stage('runtime'), 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('BUN_RUNTIME_TRANSPILER_CACHE_PATH=0');
    expect(env).toContain('HOME=/tmp');
    expect(env).toContain('TMPDIR=/tmp');
    expect(env).toContain('APP_ENV=production');
    expect(env).toContain('PORT=8000');
  });

  test('asks /health with Bun itself for its HEALTHCHECK (the slim image has no curl)', () => {
    const healthcheck = last(stage('runtime'), 'HEALTHCHECK') ?? '';
    expect(healthcheck).toContain('CMD ["bun", "-e",');
    expect(healthcheck).toContain("'/health'");
    expect(healthcheck).toContain('process.env.PORT || 8000');
  });

  test('execs Bun directly as PID 1 with SIGTERM as the stop signal, so the graceful drain runs', () => {
    const runtime = stage('runtime');
    expect(last(runtime, 'STOPSIGNAL')).toBe('SIGTERM');
    expect(last(runtime, 'ENTRYPOINT')).toBe('[]');
    expect(JSON.parse(last(runtime, 'CMD') ?? 'null')).toEqual(['bun', 'src/index.ts']);
    expect(last(runtime, 'EXPOSE')).toBe('8000');
  });

  test('labels the image with its OCI source, revision, version and creation time from build args', () => {
    const labels = all(stage('runtime'), 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const [label, arg] of [
      ['source', 'SOURCE'],
      ['revision', 'REVISION'],
      ['version', 'VERSION'],
      ['created', 'CREATED'],
    ]) {
      expect(labels).toContain(`org.opencontainers.image.${label}="\${${arg}}"`);
      expect(all(stage('runtime'), 'ARG').map((i) => i.args.split('=')[0])).toContain(arg as string);
    }
  });

  test('has a backup target: the runtime plus Postgres 15 client tools first on PATH, and no HTTP healthcheck', () => {
    const backup = stage('backup');
    expect(backup.from).toBe('runtime');
    expect(last(backup, 'RUN')).toContain('apt-get install -y --no-install-recommends postgresql-client-15');
    expect(last(backup, 'ENV')).toContain('PATH=/usr/lib/postgresql/15/bin:$PATH');
    expect(last(backup, 'HEALTHCHECK')).toBe('NONE');
    const loop = JSON.parse(last(backup, 'CMD') ?? '[]') as string[];
    expect(loop.slice(0, 2)).toEqual(['sh', '-c']);
    expect(loop[2]).toContain('bun run db:backup');
    expect(loop[2]).toContain('sleep "$BACKUP_INTERVAL_SECONDS"');
  });

  test('builds the API by default: the last stage is the runtime, unchanged', () => {
    const final = stages.at(-1) as Stage;
    expect(final.from).toBe('runtime');
    expect(final.instructions).toEqual([]);
    expect(JSON.parse(effective(final).findLast((i) => i.keyword === 'CMD')?.args ?? '[]')).toEqual([
      'bun',
      'src/index.ts',
    ]);
  });
});

describe('.dockerignore', () => {
  test('keeps secrets, .git, node_modules, local data, backups and tests out of the build context', () => {
    for (const path of [
      '.env',
      '.env.production',
      '.git/config',
      'node_modules/elysia/package.json',
      '.data/pglite/PG_VERSION',
      'backups/loans-20261126T000000Z.dump',
      'coverage/lcov.info',
      'test/support/app.ts',
      'src/http/docs.test.ts',
      'src/.env',
      'docs/deployment.md',
      'compose.yaml',
    ]) {
      expect({ path, ignored: ignoredByDocker(path) }).toEqual({ path, ignored: true });
    }
  });

  test('lets in exactly what the Dockerfile copies', () => {
    for (const path of [
      'package.json',
      'bun.lock',
      'tsconfig.json',
      'src/index.ts',
      'src/db/cli/backup.ts',
      'drizzle/meta/_journal.json',
    ]) {
      expect({ path, ignored: ignoredByDocker(path) }).toEqual({ path, ignored: false });
    }
  });

  test('admits no tracked file outside src/, drizzle/ and the three manifests', async () => {
    const listing = Bun.spawnSync(['git', 'ls-files', '--cached', '--others', '--exclude-standard'], {
      cwd: repoRoot,
    });
    const files = listing.stdout.toString().split('\n').filter(Boolean);
    expect(files.length).toBeGreaterThan(10);
    const admitted = files.filter((path) => !ignoredByDocker(path));
    const allowed = /^(src\/|drizzle\/|package\.json$|bun\.lock$|tsconfig\.json$)/;
    expect(admitted.filter((path) => !allowed.test(path) || path.endsWith('.test.ts'))).toEqual([]);
    expect(admitted).toContain('src/index.ts');
  });
});
