// The CI/CD workflow cannot run on these machines, so this file reads it as data and holds it to the gates
// it promises (docs/pipeline.md): what triggers it, what gates what, which image is pushed, who may write.
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { runToExit } from '../support/run';

type Step = {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};
type Service = { image: string; env?: Record<string, string>; ports?: string[]; options?: string };
type Job = {
  name?: string;
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string> | string;
  services?: Record<string, Service>;
  outputs?: Record<string, string>;
  'runs-on': string;
  'timeout-minutes'?: number;
  env?: Record<string, string>;
  steps: Step[];
};
type Workflow = {
  on: Record<string, { branches?: string[]; tags?: string[] } | null>;
  concurrency: { group: string; 'cancel-in-progress': boolean };
  permissions: unknown;
  defaults?: { run?: { shell?: string } };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
};

const root = join(import.meta.dir, '..', '..');
const workflowDir = join(root, '.github', 'workflows');
const workflowFiles = readdirSync(workflowDir)
  .filter((file) => /\.ya?ml$/.test(file))
  .map((file) => join(workflowDir, file));
const workflowText = readFileSync(join(workflowDir, 'ci.yml'), 'utf8');
const workflow = parse(workflowText) as Workflow;
const dependabot = parse(readFileSync(join(root, '.github', 'dependabot.yml'), 'utf8')) as {
  version: number;
  updates: Record<string, unknown>[];
};
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  packageManager: string;
};

function job(id: string): Job {
  const found = workflow.jobs[id];
  if (!found) throw new Error(`the workflow has no job "${id}"`);
  return found;
}

function needsOf(id: string): string[] {
  const needs = job(id).needs ?? [];
  return Array.isArray(needs) ? needs : [needs];
}

function actionOf(step: Step): string | undefined {
  return step.uses?.split('@')[0];
}

function stepsUsing(id: string, action: string): Step[] {
  return job(id).steps.filter((step) => actionOf(step) === action);
}

function onlyStepUsing(id: string, action: string): Step {
  const steps = stepsUsing(id, action);
  if (steps.length !== 1) throw new Error(`job "${id}" uses ${action} ${steps.length} times, expected once`);
  return steps[0] as Step;
}

function stepNamed(id: string, pattern: RegExp): Step {
  const step = job(id).steps.find((candidate) => pattern.test(candidate.name ?? ''));
  if (!step) throw new Error(`job "${id}" has no step named like ${pattern}`);
  return step;
}

function stepRunning(id: string, pattern: RegExp): Step {
  const step = job(id).steps.find((candidate) => pattern.test(candidate.run ?? ''));
  if (!step) throw new Error(`job "${id}" has no step whose script matches ${pattern}`);
  return step;
}

function indexOf(id: string, step: Step): number {
  return job(id).steps.indexOf(step);
}

function allSteps(): Array<{ jobId: string; step: Step }> {
  return Object.entries(workflow.jobs).flatMap(([jobId, each]) =>
    each.steps.map((step) => ({ jobId, step })),
  );
}

/** The commands of a script: continuation lines joined, comments and blank lines dropped. */
function commandsOf(step: Step): string[] {
  return (step.run ?? '')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A GitHub expression as it is written in the workflow. */
function expr(body: string): string {
  return `\${{ ${body} }}`;
}

/** `${{ runner.temp }}/x` in an input is `$RUNNER_TEMP/x` in a script. */
function asShellPath(input: unknown): string {
  return String(input).replace(/\$\{\{\s*runner\.temp\s*\}\}/g, '$RUNNER_TEMP');
}

/**
 * Evaluates a job-level `if:` the way GitHub does for the subset a gate should need: context paths, string
 * literals, == and != (case-insensitive), !, &&, ||, parentheses, startsWith/endsWith/contains. Anything else
 * (`always()`, `failure()`, an unknown context) throws, because it would let the job bypass its `needs`.
 */
function evaluate(expression: string, context: Record<string, string>): string | boolean {
  const source = expression.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  const tokens = source.match(/'(?:[^']|'')*'|==|!=|&&|\|\||[!(),]|[A-Za-z_][\w.-]*|\S/g) ?? [];
  let position = 0;
  const peek = () => tokens[position];
  const take = (expected?: string) => {
    const token = tokens[position++];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new Error(`unexpected ${token ?? 'end'} in ${source}`);
    }
    return token;
  };
  const truthy = (value: string | boolean) => value !== '' && value !== false;
  const functions: Record<string, (a: string, b: string) => boolean> = {
    startswith: (a, b) => a.toLowerCase().startsWith(b.toLowerCase()),
    endswith: (a, b) => a.toLowerCase().endsWith(b.toLowerCase()),
    contains: (a, b) => a.toLowerCase().includes(b.toLowerCase()),
  };
  const primary = (): string | boolean => {
    const token = take();
    if (token === '(') {
      const value = or();
      take(')');
      return value;
    }
    if (token.startsWith("'")) return token.slice(1, -1).replaceAll("''", "'");
    if (peek() === '(') {
      const fn = functions[token.toLowerCase()];
      if (!fn) throw new Error(`${token}() is not allowed in a gate`);
      take('(');
      const a = String(or());
      take(',');
      const b = String(or());
      take(')');
      return fn(a, b);
    }
    if (token === 'true' || token === 'false') return token === 'true';
    if (!(token in context)) throw new Error(`unknown context ${token} in ${source}`);
    return context[token] as string;
  };
  const comparison = (): string | boolean => {
    const left = primary();
    if (peek() === '==' || peek() === '!=') {
      const negate = take() === '!=';
      const equal = String(left).toLowerCase() === String(primary()).toLowerCase();
      return negate ? !equal : equal;
    }
    return left;
  };
  const unary = (): string | boolean => {
    if (peek() === '!') {
      take();
      return !truthy(unary());
    }
    return comparison();
  };
  const and = (): string | boolean => {
    let value = unary();
    while (peek() === '&&') {
      take();
      const right = unary();
      value = truthy(value) ? right : value;
    }
    return value;
  };
  const or = (): string | boolean => {
    let value = and();
    while (peek() === '||') {
      take();
      const right = and();
      value = truthy(value) ? value : right;
    }
    return value;
  };
  const result = or();
  if (position !== tokens.length) throw new Error(`trailing ${peek()} in ${source}`);
  return truthy(result);
}

describe('triggers and concurrency', () => {
  test('runs on pushes to main and v* tags, pull requests to main, and by hand; nothing else', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    expect(workflow.on.push).toEqual({ branches: ['main'], tags: ['v*'] });
    expect(workflow.on.pull_request).toEqual({ branches: ['main'] });
  });

  test('a newer run of the same workflow and ref cancels the one it supersedes', () => {
    expect(workflow.concurrency.group).toContain('github.workflow');
    expect(workflow.concurrency.group).toContain('github.ref');
    expect(workflow.concurrency['cancel-in-progress']).toBe(true);
  });

  test('run steps use bash with pipefail, so a failing test piped into tee still fails the step', () => {
    expect(workflow.defaults?.run?.shell).toBe('bash');
  });
});

describe('jobs and what gates what', () => {
  test('has the five stages: test, audit, build, scan, push', () => {
    expect(Object.keys(workflow.jobs).sort()).toEqual(['audit', 'build', 'push', 'scan', 'test']);
  });

  test('scan waits for the build; push waits for test, audit, build and scan', () => {
    expect(needsOf('scan')).toEqual(['build']);
    expect(needsOf('push').sort()).toEqual(['audit', 'build', 'scan', 'test']);
    expect(needsOf('test')).toEqual([]);
    expect(needsOf('audit')).toEqual([]);
    expect(needsOf('build')).toEqual([]);
  });

  test('push runs for a push to main or to a v* tag, and for nothing else', () => {
    const gate = job('push').if;
    expect(gate).toBeString();
    const runsFor = (event: string, ref: string) =>
      evaluate(gate as string, { 'github.event_name': event, 'github.ref': ref });
    expect(runsFor('push', 'refs/heads/main')).toBe(true);
    expect(runsFor('push', 'refs/tags/v1.4.0')).toBe(true);
    expect(runsFor('pull_request', 'refs/pull/7/merge')).toBe(false);
    expect(runsFor('pull_request', 'refs/heads/main')).toBe(false);
    expect(runsFor('workflow_dispatch', 'refs/heads/main')).toBe(false);
    expect(runsFor('push', 'refs/heads/feature')).toBe(false);
    expect(runsFor('push', 'refs/tags/nightly')).toBe(false);
  });

  test('the gate evaluator refuses status functions that would let push bypass a failed need', () => {
    const context = { 'github.event_name': 'push', 'github.ref': 'refs/heads/main' };
    expect(() => evaluate(expr("always() && github.ref == 'refs/heads/main'"), context)).toThrow();
    expect(() => evaluate(expr('!cancelled()'), context)).toThrow();
  });

  test('only the test, audit, build and scan jobs run without a gate of their own', () => {
    for (const id of ['test', 'audit', 'build', 'scan']) expect(job(id).if).toBeUndefined();
  });

  test('every job has a timeout', () => {
    for (const [id, each] of Object.entries(workflow.jobs)) {
      expect({ id, timeout: each['timeout-minutes'] }).toEqual({ id, timeout: expect.any(Number) });
    }
  });
});

describe('permissions', () => {
  test('the workflow grants nothing by default', () => {
    expect(workflow.permissions).toEqual({});
  });

  test('every job names its own permissions, as a map of scopes', () => {
    for (const [id, each] of Object.entries(workflow.jobs)) {
      expect({ id, permissions: typeof each.permissions }).toEqual({ id, permissions: 'object' });
    }
  });

  test('write access exists only for code-scanning uploads in scan and for publishing in push', () => {
    const writes = Object.fromEntries(
      Object.entries(workflow.jobs).map(([id, each]) => [
        id,
        Object.entries(each.permissions as Record<string, string>)
          .filter(([, level]) => level === 'write')
          .map(([scope]) => scope)
          .sort(),
      ]),
    );
    expect(writes).toEqual({
      test: [],
      audit: [],
      build: [],
      scan: ['security-events'],
      push: ['attestations', 'id-token', 'packages'],
    });
  });

  test('checkouts do not leave the token in .git/config', () => {
    const checkouts = allSteps().filter(({ step }) => actionOf(step) === 'actions/checkout');
    expect(checkouts.length).toBeGreaterThan(0);
    for (const { jobId, step } of checkouts) {
      expect({ jobId, persist: step.with?.['persist-credentials'] }).toEqual({ jobId, persist: false });
    }
  });

  test('no script interpolates an expression; values reach scripts through env', () => {
    for (const { jobId, step } of allSteps()) {
      if (step.run)
        expect({ jobId, step: step.name, run: step.run.includes('${{') }).toMatchObject({ run: false });
    }
  });
});

describe('test job', () => {
  const steps = () => job('test').steps;
  const postgres = () => job('test').services?.postgres as Service;
  const postgresRun = () => stepRunning('test', /\bbun test --coverage\b/);
  const pgliteRun = () => stepRunning('test', /^bun test\s*$/);

  test('sets up the Bun version that package.json pins, wherever Bun is set up', () => {
    const pinned = packageJson.packageManager.replace(/^bun@/, '');
    const setups = allSteps().filter(({ step }) => actionOf(step) === 'oven-sh/setup-bun');
    expect(setups.map(({ jobId }) => jobId).sort()).toEqual(['audit', 'test']);
    for (const { step } of setups) expect(String(step.with?.['bun-version'])).toBe(pinned);
  });

  test('installs from the frozen lockfile, then typechecks and lints before any test runs', () => {
    const install = stepRunning('test', /bun install --frozen-lockfile/);
    const typecheck = stepRunning('test', /bun run typecheck/);
    const lint = stepRunning('test', /bun run lint/);
    expect(indexOf('test', install)).toBeLessThan(indexOf('test', typecheck));
    expect(indexOf('test', typecheck)).toBeLessThan(indexOf('test', postgresRun()));
    expect(indexOf('test', lint)).toBeLessThan(indexOf('test', postgresRun()));
  });

  test('runs Postgres 15 as a service that reports healthy through pg_isready', () => {
    expect(postgres().image).toBe('postgres:15');
    expect(postgres().ports).toContain('5432:5432');
    expect(postgres().options).toMatch(/--health-cmd\s+"?pg_isready/);
  });

  test('runs the suite against that Postgres as a role that may create databases', () => {
    const url = new URL(postgresRun().env?.DATABASE_URL ?? '');
    expect(url.protocol).toBe('postgres:');
    expect(`${url.hostname}:${url.port}`).toBe('localhost:5432');
    expect(url.username).toBe(postgres().env?.POSTGRES_USER ?? 'postgres');
    expect(url.username).toBe('postgres');
    expect(url.password).toBe(postgres().env?.POSTGRES_PASSWORD as string);
  });

  test('installs Caddy from apt before the Postgres run, which drives the HTTPS end-to-end test', () => {
    const caddy = stepRunning('test', /apt-get install[^\n]*\bcaddy\b/);
    expect(indexOf('test', caddy)).toBeLessThan(indexOf('test', postgresRun()));
  });

  test('runs the suite a second time on embedded PGlite, with no DATABASE_URL anywhere in scope', () => {
    expect(pgliteRun().env ?? {}).toEqual({});
    expect(job('test').env?.DATABASE_URL).toBeUndefined();
    expect(workflow.env?.DATABASE_URL).toBeUndefined();
  });

  test('reports coverage in the run summary and keeps the lcov file', () => {
    const summary = stepNamed('test', /report coverage/i);
    expect(summary.run).toContain('GITHUB_STEP_SUMMARY');
    const upload = stepsUsing('test', 'actions/upload-artifact');
    expect(upload.map((step) => step.with?.path)).toContain('coverage/lcov.info');
    expect(steps().indexOf(summary)).toBeGreaterThan(steps().indexOf(postgresRun()));
  });
});

describe('audit job', () => {
  test('audits bun.lock and fails on high or critical advisories', () => {
    const install = stepRunning('audit', /bun install --frozen-lockfile/);
    const audit = stepRunning('audit', /\bbun audit\b/);
    expect(audit.run).toMatch(/--audit-level[= ]high\b/);
    expect(indexOf('audit', install)).toBeLessThan(indexOf('audit', audit));
  });
});

describe('build job: one image, smoke-tested', () => {
  const build = () => onlyStepUsing('build', 'docker/build-push-action');
  const archiveStep = () => stepNamed('build', /digest/i);
  const smoke = () => stepNamed('build', /smoke/i);
  const upload = () => onlyStepUsing('build', 'actions/upload-artifact');

  test('the whole workflow builds an image exactly once, in the build job', () => {
    const builds = allSteps().filter(({ step }) => actionOf(step) === 'docker/build-push-action');
    expect(builds.map(({ jobId }) => jobId)).toEqual(['build']);
    for (const { step } of allSteps()) expect(step.run ?? '').not.toMatch(/\bdocker\s+(buildx\s+)?build\b/);
  });

  test('builds docker/Dockerfile from the repository root with Buildx and the GitHub Actions cache', () => {
    expect(stepsUsing('build', 'docker/setup-buildx-action')).toHaveLength(1);
    expect(build().with).toMatchObject({
      context: '.',
      file: 'docker/Dockerfile',
      'cache-from': 'type=gha',
      'cache-to': 'type=gha,mode=max',
    });
  });

  test('writes an OCI archive and pushes nothing', () => {
    expect(build().with?.push).not.toBe(true);
    expect(build().with?.load).not.toBe(true);
    expect(String(build().with?.outputs)).toMatch(/^type=oci,dest=[^,]+$/);
    // BuildKit attestations would wrap the image in an index; attestation happens on the pushed digest.
    expect(build().with?.provenance).toBe(false);
    expect(build().with?.sbom).toBe(false);
  });

  test('tags: sha-<short>, the full SHA, latest on the default branch, semver on tags', () => {
    const meta = onlyStepUsing('build', 'docker/metadata-action');
    const tags = String(meta.with?.tags)
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    expect(tags.some((tag) => /^type=sha,prefix=sha-,format=short\b/.test(tag))).toBe(true);
    expect(tags.some((tag) => /^type=sha,prefix=,format=long\b/.test(tag))).toBe(true);
    expect(tags).toContain('type=raw,value=latest,enable={{is_default_branch}}');
    expect(tags).toContain('type=semver,pattern={{version}}');
    expect(meta.with?.flavor).toBe('latest=false');
    expect(meta.with?.images).toBe(expr('steps.name.outputs.image'));
    expect(build().with?.labels).toBe(`\${{ steps.${meta.id}.outputs.labels }}`);
  });

  test('publishes the image name, digest, archive checksum and tags for the later jobs', () => {
    expect(job('build').outputs).toEqual({
      image: expr('steps.name.outputs.image'),
      digest: `\${{ steps.${archiveStep().id}.outputs.digest }}`,
      'archive-sha256': `\${{ steps.${archiveStep().id}.outputs.sha256 }}`,
      tags: expr('steps.meta.outputs.tags'),
    });
    // Registry paths are lower case; `,,` lower-cases the owner/repository in bash.
    expect(job('build').steps.find((step) => step.id === 'name')?.run).toContain(
      'ghcr.io/$' + '{GITHUB_REPOSITORY,,}',
    );
  });

  test('the smoke test runs the built digest against Postgres and checks /health and /ready', () => {
    expect(job('build').services?.postgres?.image).toBe('postgres:15');
    expect(job('build').services?.postgres?.options).toMatch(/pg_isready/);
    const run = smoke().run ?? '';
    expect(smoke().env?.DIGEST).toBe(`\${{ steps.${archiveStep().id}.outputs.digest }}`);
    expect(run).toContain(
      `oci-archive:${asShellPath(String(build().with?.outputs).replace('type=oci,dest=', ''))}`,
    );
    const runs = commandsOf(smoke()).filter((command) => command.startsWith('docker run'));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toEndWith('@$DIGEST"');
    expect(run).toContain('localhost:8000/health');
    expect(run).toContain('localhost:8000/ready');
  });

  test('the smoke test polls a bounded number of times instead of sleeping a fixed while', () => {
    const run = smoke().run ?? '';
    expect(run).toMatch(/for \w+ in \$\(seq 1 \d+\)/);
    expect(run).not.toMatch(/sleep\s+([5-9]|\d{2,})/);
  });

  test('only a smoke-tested archive is handed on, and it is the file the build wrote', () => {
    expect(indexOf('build', build())).toBeLessThan(indexOf('build', smoke()));
    expect(indexOf('build', smoke())).toBeLessThan(indexOf('build', upload()));
    expect(upload().if).toBeUndefined();
    expect(`type=oci,dest=${upload().with?.path}`).toBe(String(build().with?.outputs));
  });
});

describe('scan job: the built archive, not a rebuild', () => {
  const download = () => onlyStepUsing('scan', 'actions/download-artifact');
  const verify = () => stepNamed('scan', /archive the build job produced/i);
  const gate = () => stepNamed('scan', /trivy gate/i);
  const sarif = () => onlyStepUsing('scan', 'github/codeql-action/upload-sarif');

  test('downloads the artifact the build uploaded and checks it against the recorded checksum and digest', () => {
    expect(download().with?.name).toBe(onlyStepUsing('build', 'actions/upload-artifact').with?.name);
    expect(verify().env).toEqual({
      ARCHIVE_SHA256: expr('needs.build.outputs.archive-sha256'),
      DIGEST: expr('needs.build.outputs.digest'),
    });
    expect(verify().run).toContain(`"$ARCHIVE_SHA256  ${asShellPath(download().with?.path)}/image.tar"`);
    expect(verify().run).toContain('sha256sum --check --strict');
    expect(indexOf('scan', download())).toBeLessThan(indexOf('scan', verify()));
    expect(indexOf('scan', verify())).toBeLessThan(indexOf('scan', gate()));
  });

  test('Trivy scans what the check unpacked, and fails on fixable CRITICAL and HIGH findings', () => {
    expect(actionOf(gate())).toBe('aquasecurity/trivy-action');
    const inputs = gate().with ?? {};
    expect(inputs['image-ref']).toBeUndefined();
    expect(verify().run).toContain(`-C "${asShellPath(inputs.input)}"`);
    expect(
      String(inputs.severity)
        .split(',')
        .map((level) => level.trim())
        .sort(),
    ).toEqual(['CRITICAL', 'HIGH']);
    expect(inputs['exit-code']).toBe('1');
    expect(inputs['ignore-unfixed']).toBe(true);
  });

  test('a SARIF gate keeps its severity filter (trivy-action drops it for SARIF unless told not to)', () => {
    const sarifSteps = allSteps().filter(
      ({ step }) => actionOf(step) === 'aquasecurity/trivy-action' && step.with?.format === 'sarif',
    );
    for (const { step } of sarifSteps) expect(step.with?.['limit-severities-for-sarif']).toBe(true);
  });

  test('uploads the gate report to code scanning, also when the gate failed', () => {
    expect(sarif().with?.sarif_file).toBe(gate().with?.output as string);
    expect(sarif().if).toMatch(/!cancelled\(\)|always\(\)/);
    expect(indexOf('scan', sarif())).toBeGreaterThan(indexOf('scan', gate()));
  });

  test('writes an SBOM of the same input and hands it to the push job', () => {
    const sbom = stepNamed('scan', /sbom/i);
    expect(sbom.with?.input).toBe(gate().with?.input as string);
    const upload = onlyStepUsing('scan', 'actions/upload-artifact');
    expect(upload.with?.path).toBe(sbom.with?.output as string);
    const pulled = stepsUsing('push', 'actions/download-artifact').map((step) => step.with?.name);
    expect(pulled).toContain(upload.with?.name);
  });
});

describe('push job: the scanned digest, nothing rebuilt', () => {
  const login = () => onlyStepUsing('push', 'docker/login-action');
  const verify = () => stepNamed('push', /archive that was built/i);
  const push = () => stepRunning('push', /skopeo copy/);
  const imageDownload = () =>
    stepsUsing('push', 'actions/download-artifact').find(
      (step) => step.with?.name === onlyStepUsing('build', 'actions/upload-artifact').with?.name,
    );

  test('logs in to ghcr.io with the workflow token', () => {
    expect(login().with).toEqual({
      registry: 'ghcr.io',
      username: expr('github.actor'),
      password: expr('secrets.GITHUB_TOKEN'),
    });
  });

  test('pushes the very archive the scan passed, after checking its checksum and digest', () => {
    expect(imageDownload()).toBeDefined();
    expect(verify().env).toEqual({
      ARCHIVE_SHA256: expr('needs.build.outputs.archive-sha256'),
      DIGEST: expr('needs.build.outputs.digest'),
    });
    expect(verify().run).toContain(
      `"$ARCHIVE_SHA256  ${asShellPath(imageDownload()?.with?.path)}/image.tar"`,
    );
    expect(indexOf('push', verify())).toBeLessThan(indexOf('push', push()));
    expect(indexOf('push', verify())).toBeLessThan(indexOf('push', login()));
  });

  test('copies the archive without conversion and fails unless every tag got the recorded digest', () => {
    const run = push().run ?? '';
    expect(push().env).toEqual({
      IMAGE: expr('needs.build.outputs.image'),
      DIGEST: expr('needs.build.outputs.digest'),
      TAGS: expr('needs.build.outputs.tags'),
    });
    const copies = commandsOf(push()).filter((command) => command.startsWith('skopeo copy'));
    expect(copies).toHaveLength(1);
    expect(copies[0]).toContain('--preserve-digests');
    expect(copies[0]).toContain('--digestfile');
    expect(copies[0]).toContain(
      `"oci-archive:${asShellPath(imageDownload()?.with?.path)}/image.tar" "docker://$ref"`,
    );
    expect(run).toMatch(/if \[ "\$pushed" != "\$DIGEST" \]; then[\s\S]*?exit 1/);
    expect(run).toContain('<<<"$TAGS"');
  });

  test('neither builds nor pushes through the Docker daemon', () => {
    expect(stepsUsing('push', 'docker/build-push-action')).toHaveLength(0);
    const scripts = job('push')
      .steps.map((step) => step.run ?? '')
      .join('\n');
    expect(scripts).not.toMatch(/\bdocker\s+(push|build|tag|load)\b/);
  });

  test('nothing outside the push job can log in to or write to a registry', () => {
    for (const { jobId, step } of allSteps()) {
      if (jobId === 'push') continue;
      expect({ jobId, login: actionOf(step) === 'docker/login-action' }).toEqual({ jobId, login: false });
      expect(step.run ?? '').not.toMatch(/docker:\/\/ghcr\.io|docker push/);
    }
  });

  test('attests build provenance and the SBOM on the pushed digest, stored in the registry too', () => {
    const attestations = stepsUsing('push', 'actions/attest');
    expect(attestations).toHaveLength(2);
    for (const step of attestations) {
      expect(step.with).toMatchObject({
        'subject-name': expr('needs.build.outputs.image'),
        'subject-digest': expr('needs.build.outputs.digest'),
        'push-to-registry': true,
      });
      expect(indexOf('push', step)).toBeGreaterThan(indexOf('push', push()));
    }
    expect(attestations.filter((step) => step.with?.['sbom-path'])).toHaveLength(1);
  });
});

describe('third-party actions are pinned', () => {
  const usesLines = workflowText
    .split('\n')
    .map((line) => line.match(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/))
    .filter((match): match is RegExpMatchArray => match !== null)
    .map((match) => ({ ref: match[1] as string, rest: (match[2] ?? '').trim() }));

  test('every uses: line is seen (none hides in flow style)', () => {
    expect(usesLines.length).toBe(allSteps().filter(({ step }) => step.uses).length);
    expect(usesLines.length).toBeGreaterThan(10);
  });

  test('by a full 40-hex commit SHA, with the release named in a comment', () => {
    for (const { ref, rest } of usesLines) {
      if (ref.startsWith('./')) continue;
      expect(ref).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/);
      expect({ ref, comment: rest }).toEqual({
        ref,
        comment: expect.stringMatching(/^#\s*v?\d+\.\d+\.\d+\b/),
      });
    }
  });

  test('one action, one pin, one release comment across the workflow', () => {
    const seen = new Map<string, string>();
    for (const { ref, rest } of usesLines) {
      const [action, sha] = ref.split('@') as [string, string];
      const repository = action.split('/').slice(0, 2).join('/');
      const pin = `${sha} ${rest.match(/^#\s*(\S+)/)?.[1]}`;
      expect({ repository, pin: seen.get(repository) ?? pin }).toEqual({ repository, pin });
      seen.set(repository, pin);
    }
  });

  test('trivy-action is a release made after the March 2026 tag hijack (0.35.0 or later)', () => {
    const trivy = usesLines.filter(({ ref }) => ref.startsWith('aquasecurity/trivy-action@'));
    expect(trivy.length).toBeGreaterThan(0);
    for (const { rest } of trivy) {
      const [major, minor] = (rest.match(/(\d+)\.(\d+)\.\d+/) ?? []).slice(1).map(Number) as [number, number];
      expect(major > 0 || minor >= 35).toBe(true);
    }
  });
});

describe('dependabot keeps the pins moving', () => {
  const update = (ecosystem: string) =>
    dependabot.updates.find((entry) => entry['package-ecosystem'] === ecosystem);
  const known = new Set([
    'package-ecosystem',
    'directory',
    'directories',
    'schedule',
    'cooldown',
    'groups',
    'open-pull-requests-limit',
    'labels',
    'ignore',
    'allow',
    'commit-message',
    'target-branch',
    'versioning-strategy',
    'assignees',
    'milestone',
    'rebase-strategy',
    'registries',
    'exclude-paths',
  ]);

  test('is a version 2 file covering bun, the Dockerfile and the workflow actions', () => {
    expect(dependabot.version).toBe(2);
    expect(dependabot.updates.map((entry) => entry['package-ecosystem']).sort()).toEqual([
      'bun',
      'docker',
      'github-actions',
    ]);
    expect(update('bun')?.directory).toBe('/');
    expect(update('github-actions')?.directory).toBe('/');
  });

  test('watches the directory of the Dockerfile that the workflow builds', () => {
    const dockerfile = String(onlyStepUsing('build', 'docker/build-push-action').with?.file);
    expect(update('docker')?.directory).toBe(`/${dockerfile.split('/').slice(0, -1).join('/')}`);
  });

  test('every entry has a valid schedule and only keys Dependabot knows', () => {
    for (const entry of dependabot.updates) {
      expect(Object.keys(entry).filter((key) => !known.has(key))).toEqual([]);
      const schedule = entry.schedule as { interval?: string };
      expect(['daily', 'weekly', 'monthly', 'quarterly', 'semiannually', 'yearly', 'cron']).toContain(
        schedule.interval as string,
      );
    }
  });
});

describe('schema validation (action-validator)', () => {
  const cli = join(root, 'node_modules', '@action-validator', 'cli', 'cli.mjs');

  async function validate(text: string, name: string): Promise<{ code: number; output: string }> {
    const file = join(mkdtempSync(join(tmpdir(), 'workflow-')), name);
    writeFileSync(file, text);
    const { code, stdout, stderr } = await runToExit([process.execPath, cli, file]);
    return { code, output: stdout + stderr };
  }

  // action-validator 0.6.0 (the newest release) bundles a workflow schema from before the `attestations`
  // permission existed, so only those lines are taken out before validating; the permissions tests above
  // pin where that permission may appear.
  function withoutAttestationsPermission(text: string): { text: string; removed: number } {
    const lines = text.split('\n');
    const kept = lines.filter((line) => !/^\s+attestations:\s*(read|write|none)\s*(#.*)?$/.test(line));
    return { text: kept.join('\n'), removed: lines.length - kept.length };
  }

  test.each(workflowFiles.map((file) => [basename(file), file]))('accepts %s', async (name, file) => {
    const source = readFileSync(file, 'utf8');
    const { text, removed } = withoutAttestationsPermission(source);
    const granted = Object.values((parse(source) as Workflow).jobs).filter(
      (each) => typeof each.permissions === 'object' && 'attestations' in each.permissions,
    ).length;
    expect(removed).toBe(granted);
    expect(await validate(text, name)).toEqual({ code: 0, output: '' });
  });

  test('rejects a workflow the schema forbids, so a pass above means something', async () => {
    const broken = workflowText.replace(/^ {4}runs-on: ubuntu-24\.04$/m, '    runs_on: ubuntu-24.04');
    expect(broken).not.toBe(workflowText);
    const result = await validate(withoutAttestationsPermission(broken).text, 'ci.yml');
    expect(result.code).toBe(1);
    expect(result.output).toContain('runs_on');
  });
});
