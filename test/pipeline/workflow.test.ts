// GitHub Actions cannot run here. action-validator holds the workflow to GitHub's schema; these tests hold it to
// the invariants docs/pipeline.md promises, and leave everything else to the linter and to review.
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { parse } from 'yaml';

type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};
type Job = { needs?: string[]; if?: string; permissions?: Record<string, string>; steps: Step[] };
type Workflow = { permissions: unknown; jobs: Record<string, Job> };

const root = join(import.meta.dir, '..', '..');
const text = await Bun.file(join(root, '.github/workflows/ci.yml')).text();
const workflow = parse(text) as Workflow;
const dependabot = parse(await Bun.file(join(root, '.github/dependabot.yml')).text()) as {
  updates: { 'package-ecosystem': string; directory: string }[];
};
const steps = Object.entries(workflow.jobs).flatMap(([job, { steps }]) =>
  steps.map((step) => ({ job, step })),
);
const using = (action: string) => steps.filter(({ step }) => step.uses?.split('@')[0] === action);
const scripts = (job?: string) =>
  steps.filter((s) => !job || s.job === job).map(({ step }) => step.run ?? '');
const expr = (body: string) => `\${{ ${body} }}`;

/** action-validator 0.6.0, the newest, predates the `attestations` permission: only those lines are left out. */
const withoutAttestations = (source: string) =>
  source.replace(/^\s+attestations:\s*(read|write|none)\b.*\n/gm, '');

describe('.github/workflows/ci.yml', () => {
  test('is valid against the workflow schema, and the validator does catch a broken one', () => {
    expect(validateWorkflow(withoutAttestations(text)).errors).toEqual([]);
    const broken = text.replace(/^ {4}runs-on:/m, '    runs_on:');
    expect(JSON.stringify(validateWorkflow(withoutAttestations(broken)).errors)).toContain('runs_on');
  });

  test('pins every action to a full commit SHA, with the release it is in a comment', () => {
    const pins = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
    expect(pins).toHaveLength(steps.filter(({ step }) => step.uses).length);
    for (const [, ref, comment] of pins) {
      expect({ ref, comment: comment?.trim() }).toEqual({
        ref: expect.stringMatching(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/),
        comment: expect.stringMatching(/^# v?\d+\.\d+\.\d+$/),
      });
    }
  });

  test('grants nothing by default; only scan and push write, each what it needs and no more', () => {
    expect(workflow.permissions).toEqual({});
    const writes = Object.fromEntries(
      Object.entries(workflow.jobs).map(([id, job]) => [
        id,
        Object.keys(job.permissions ?? { missing: 'write' })
          .filter((scope) => job.permissions?.[scope] !== 'read')
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

  test('writes no secret inline: scripts get values through env, the one secret is the workflow token', () => {
    for (const run of scripts()) expect(run).not.toContain('${{');
    expect(text.match(/secrets\.\w+/g)).toEqual(['secrets.GITHUB_TOKEN']);
    expect(using('docker/login-action')[0]?.step.with?.password).toBe(expr('secrets.GITHUB_TOKEN'));
    for (const { step } of using('actions/checkout')) expect(step.with?.['persist-credentials']).toBe(false);
  });

  test('the test job is .ci/run, on the Bun version package.json pins, as every setup-bun is', () => {
    expect(scripts('test').filter((run) => run.includes('.ci/run'))).toHaveLength(1);
    expect(scripts('test').join('\n')).not.toMatch(/\bbun (test|run|install)\b/);
    for (const { step } of using('oven-sh/setup-bun')) {
      expect(step.with).toEqual({ 'bun-version-file': 'package.json' });
    }
  });

  test('pushes only after test, audit, build and scan passed, and only for a push to main or a v* tag', () => {
    const push = workflow.jobs.push as Job;
    expect([...(push.needs ?? [])].sort()).toEqual(['audit', 'build', 'scan', 'test']);
    // A status function would let the job run past a failed need.
    expect(push.if).not.toMatch(/always\(|failure\(|cancelled\(/);
    expect(push.if).toContain("github.event_name == 'push'");
    expect(push.if).toContain("github.ref == 'refs/heads/main'");
    expect(push.if).toContain("startsWith(github.ref, 'refs/tags/v')");
  });

  test('pushes the digest that was built, smoke-tested and scanned: one build, checked at every hand-over', () => {
    const builds = using('docker/build-push-action');
    expect(builds.map(({ job }) => job)).toEqual(['build']);
    expect(builds[0]?.step.with).toMatchObject({ outputs: expect.stringMatching(/^type=oci,dest=/) });
    for (const run of scripts()) expect(run).not.toMatch(/\bdocker\s+(buildx\s+)?(build|push|load|tag)\b/);
    // Scan and push each check the downloaded archive against the build's checksum and digest before use.
    for (const job of ['scan', 'push']) {
      const check = steps.find((s) => s.job === job && s.step.run?.includes('sha256sum --check'))?.step;
      expect(check?.env).toMatchObject({
        ARCHIVE_SHA256: expr('needs.build.outputs.archive-sha256'),
        DIGEST: expr('needs.build.outputs.digest'),
      });
      expect(check?.run).toMatch(/if \[ "\$actual" != "\$DIGEST" \]; then[\s\S]*?exit 1/);
    }
    for (const { step } of using('aquasecurity/trivy-action'))
      expect(step.with?.['image-ref']).toBeUndefined();
    const copy = steps.find((s) => s.job === 'push' && s.step.run?.includes('skopeo copy'))?.step;
    expect(copy?.env?.DIGEST).toBe(expr('needs.build.outputs.digest'));
    expect(copy?.run).toMatch(/skopeo copy [^\n]*--preserve-digests[\s\S]*--digestfile/);
    expect(copy?.run).toMatch(/if \[ "\$pushed" != "\$DIGEST" \]; then[\s\S]*?exit 1/);
    for (const { step } of using('actions/attest')) {
      expect(step.with?.['subject-digest']).toBe(expr('needs.build.outputs.digest'));
    }
  });
});

test('dependabot moves the pins of packages, the Dockerfile base image and the actions', () => {
  expect(dependabot.updates.map((u) => `${u['package-ecosystem']} ${u.directory}`).sort()).toEqual([
    'bun /',
    'docker /docker',
    'github-actions /',
  ]);
});
