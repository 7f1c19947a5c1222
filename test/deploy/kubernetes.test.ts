import { describe, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config';
import { DRAIN_TIMEOUT_MS } from '../../src/server';
import { runToExit } from '../support/run';
import { missingTools } from '../support/tools';

// Every overlay under deploy/kubernetes/overlays, and the blue-green layout, as `kubectl kustomize` renders them:
// each object validated against the Kubernetes JSON schema of its kind (kubernetes-models), then the properties
// a user of the cluster depends on.

const repoRoot = new URL('../..', import.meta.url).pathname;
const kubernetesDir = join(repoRoot, 'deploy/kubernetes');
const overlays = readdirSync(join(kubernetesDir, 'overlays'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

const dockerfile = await Bun.file(join(repoRoot, 'docker/Dockerfile')).text();
const imagePort = Number(dockerfile.match(/^EXPOSE (\d+)$/m)?.[1]);
const [imageUid, imageGid] = (dockerfile.match(/^USER (\d+):(\d+)$/m) ?? []).slice(1).map(Number);
const packageScripts = (await Bun.file(join(repoRoot, 'package.json')).json()).scripts as Record<
  string,
  string
>;

/** Postgres' default max_connections, of which superuser_reserved_connections (3) are not for applications. */
const POSTGRES_APP_CONNECTIONS = 100 - 3;
const SLOT = 'branchloans.com/slot';

const models = [
  Deployment,
  Service,
  ConfigMap,
  PodDisruptionBudget,
  HorizontalPodAutoscaler,
  NetworkPolicy,
  Job,
];

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string };
}

/** A kustomization rendered; a failure is kept for its test to report, so the other directories still run. */
async function render(path: string) {
  const result = await runToExit(['kubectl', 'kustomize', join(kubernetesDir, path)]);
  if (result.code !== 0) {
    const version = await runToExit(['kubectl', 'version', '--client']);
    const hint =
      'these files need kubectl 1.21 or newer (kustomize v4+: `labels`, `patches`, directories in `resources`)';
    return {
      failure: `${result.stderr}\n${version.stdout}\n${hint}`,
      warnings: '',
      objects: [] as Manifest[],
    };
  }
  const objects = parseAllDocuments(result.stdout).map((document) => document.toJS() as Manifest);
  return { failure: undefined, warnings: result.stderr, objects };
}

const kubectlMissing = missingTools('Kubernetes manifests', { kubectl: Bun.which('kubectl') });
const renders = kubectlMissing
  ? []
  : await Promise.all(
      overlays.map(async (overlay) => ({ overlay, ...(await render(`overlays/${overlay}`)) })),
    );
const blueGreen = kubectlMissing ? undefined : await render('blue-green');

/** What the schema of each object's kind says against it; an object of a kind not in `models` is one. */
function schemaProblems(objects: Manifest[]): string[] {
  return objects.flatMap((object) => {
    const Model = models.find((model) => model.is(object));
    if (!Model) return [`${object.apiVersion} ${object.kind}: no schema in this test's list`];
    try {
      new Model(object as never).validate();
      return [];
    } catch (error) {
      return [`${object.kind}/${object.metadata?.name}: ${(error as Error).message}`];
    }
  });
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.keys(selector ?? {}).length > 0 &&
  Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);

function only<T>(items: T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected one ${what}, found ${items.length}`);
  return items[0] as T;
}

/** The container port a probe, Service or policy names, by number or by the container's port name. */
function containerPort(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number')
    return container.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** A release's tag or digest: an untagged or `latest` image changes under a running Deployment. */
function expectPinned(image: string | undefined) {
  expect(image).toMatch(/(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/);
  expect(image).not.toEndWith(':latest');
}

const portsOf = (rules: { ports?: INetworkPolicyPort[] }[] | undefined) =>
  (rules ?? []).flatMap((rule) => (rule.ports ?? []).map((p) => `${p.port}/${p.protocol}`)).sort();

/** The objects each check looks at, and the configuration the service reads from the ConfigMap. */
function partsOf(objects: Manifest[]) {
  const deployment = only(objects.filter(Deployment.is), 'Deployment');
  const job = only(objects.filter(Job.is), 'Job');
  const configMap = only(objects.filter(ConfigMap.is), 'ConfigMap');
  const apiPod = deployment.spec?.template.spec as IPodSpec;
  const jobPod = job.spec?.template.spec as IPodSpec;
  const api = only(apiPod.containers, 'API container');
  const migrate = only(jobPod.containers, 'migration container');
  return {
    deployment,
    job,
    configMap,
    hpa: only(objects.filter(HorizontalPodAutoscaler.is), 'HorizontalPodAutoscaler'),
    pdb: only(objects.filter(PodDisruptionBudget.is), 'PodDisruptionBudget'),
    service: only(objects.filter(Service.is), 'Service'),
    policies: objects.filter(NetworkPolicy.is),
    apiPod,
    apiLabels: deployment.spec?.template.metadata?.labels,
    jobPod,
    api,
    migrate,
    containers: [api, migrate],
    maxSurge: deployment.spec?.strategy?.rollingUpdate?.maxSurge,
    readConfig: () => loadConfig({ ...configMap.data, DATABASE_URL: 'postgres://api@postgres:5432/loans' }),
  };
}

test('deploy/kubernetes has a staging and a production overlay', () => {
  expect(overlays).toEqual(expect.arrayContaining(['staging', 'production']));
});

describe.each(renders)('overlay $overlay', ({ overlay, failure, warnings, objects }) => {
  const namespace = `branch-loans-${overlay}`;
  let cached: ReturnType<typeof partsOf> | undefined;
  // Picked out inside each test, so that a missing or doubled object fails tests instead of the file.
  const parts = () => (cached ??= partsOf(objects));

  test('renders with `kubectl kustomize`, with no warning', () => {
    expect(failure).toBeUndefined();
    expect(warnings).toBe('');
  });

  test('every object validates against the Kubernetes schema of its kind', () => {
    expect(objects.length).toBeGreaterThan(0);
    expect(schemaProblems(objects)).toEqual([]);
  });

  test(`holds the API, its Service, budget, autoscaler, policies, migration Job and ConfigMap in ${namespace}, and no Secret`, () => {
    expect(objects.map((object) => object.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Job',
      'NetworkPolicy',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
    ]);
    expect(new Set(objects.map((object) => object.metadata?.namespace))).toEqual(new Set([namespace]));
  });

  test(`startup and liveness probes ask /health, readiness /ready, on the image's port ${imagePort}`, () => {
    const { api, readConfig } = parts();
    const config = readConfig();
    const probes = { startup: api.startupProbe, liveness: api.livenessProbe, readiness: api.readinessProbe };
    const asked = Object.fromEntries(
      Object.entries(probes).map(([name, probe]) => [
        name,
        `${probe?.httpGet?.path} ${containerPort(api, probe?.httpGet?.port)}`,
      ]),
    );
    expect(asked).toEqual({
      startup: `/health ${imagePort}`,
      liveness: `/health ${imagePort}`,
      readiness: `/ready ${imagePort}`,
    });
    expect(config.port).toBe(imagePort);
  });

  test("every container runs as the image's user, non-root, read-only, unprivileged, no capabilities, seccomp RuntimeDefault", () => {
    const { apiPod, jobPod, containers } = parts();
    for (const pod of [apiPod, jobPod]) {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: imageUid,
        runAsGroup: imageGid,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      // The image's HOME and TMPDIR: the one writable place on a read-only root.
      expect(pod.volumes?.find((volume) => volume.name === 'tmp')?.emptyDir).toBeDefined();
    }
    for (const container of containers) {
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    }
  });

  test(`on SIGTERM the preStop pause and the ${DRAIN_TIMEOUT_MS} ms drain fit inside the grace period`, () => {
    const { apiPod, api } = parts();
    const pause = api.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(pause).toBeGreaterThanOrEqual(1);
    expect(apiPod.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(pause + DRAIN_TIMEOUT_MS / 1000);
  });

  test('rolling updates add a pod before taking one away', () => {
    const { deployment, maxSurge } = parts();
    expect(deployment.spec?.strategy?.type).toBe('RollingUpdate');
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(typeof maxSurge).toBe('number');
    expect(maxSurge).toBeGreaterThan(0);
  });

  test('the autoscaler owns the replicas: two at least, one pod at a time disrupted, pools that fit in Postgres', () => {
    const { deployment, hpa, pdb, apiLabels, maxSurge, readConfig } = parts();
    const config = readConfig();
    // With spec.replicas in the manifest, every apply would scale a busy Deployment back down to it.
    expect(deployment.spec?.replicas).toBeUndefined();
    expect(hpa.spec?.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata?.name as string,
    });
    const { minReplicas = 1, maxReplicas } = hpa.spec ?? { maxReplicas: 0 };
    expect(minReplicas).toBeGreaterThanOrEqual(2);
    expect(maxReplicas).toBeGreaterThanOrEqual(minReplicas);
    expect(hpa.spec?.metrics?.map((metric) => metric.resource?.name)).toEqual(['cpu']);

    expect(selects(pdb.spec?.selector?.matchLabels, apiLabels)).toBe(true);
    expect(pdb.spec?.minAvailable).toBeUndefined();
    expect(pdb.spec?.maxUnavailable).toBe(1);

    // Every replica plus the rollout's surge pod and the migration Job each hold a full pool.
    const pools = maxReplicas + (maxSurge as number) + 1;
    expect(pools * config.dbPoolMax).toBeLessThanOrEqual(POSTGRES_APP_CONNECTIONS);
  });

  test('pods spread over nodes and zones, each rollout on its own', () => {
    const { apiPod, apiLabels } = parts();
    const spread = apiPod.topologySpreadConstraints ?? [];
    expect(spread.map((constraint) => constraint.topologyKey).sort()).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    for (const constraint of spread) {
      expect(selects(constraint.labelSelector?.matchLabels, apiLabels)).toBe(true);
      expect(constraint.matchLabelKeys).toEqual(['pod-template-hash']);
    }
  });

  test('every container asks for and is limited in CPU and memory', () => {
    const { containers } = parts();
    for (const container of containers) {
      expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(container.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
    }
  });

  test("the Service sends port 80 to the API pods' port", () => {
    const { service, apiLabels, api } = parts();
    expect(selects(service.spec?.selector, apiLabels)).toBe(true);
    const port = only(service.spec?.ports ?? [], 'Service port');
    expect(port.port).toBe(80);
    expect(containerPort(api, port.targetPort)).toBe(imagePort);
  });

  test('only the ingress controller reaches the API; the API reaches only Postgres, Redis and DNS', () => {
    const { policies, apiLabels, api } = parts();
    const policy = only(
      policies.filter((p) => selects(p.spec?.podSelector?.matchLabels, apiLabels)),
      'policy selecting the API pods',
    );
    expect(policy.spec?.policyTypes?.slice().sort()).toEqual(['Egress', 'Ingress']);
    const ingress = only(policy.spec?.ingress ?? [], 'ingress rule');
    const peer = only(ingress.from ?? [], 'ingress peer');
    expect(peer.ipBlock).toBeUndefined();
    expect(peer.namespaceSelector?.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'ingress-nginx' });
    expect(peer.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'ingress-nginx' });
    expect(ingress.ports?.map((p) => containerPort(api, p.port))).toEqual([imagePort]);

    // An egress rule without `to` would allow every destination on its ports.
    for (const rule of policy.spec?.egress ?? []) expect(rule.to?.length).toBeGreaterThan(0);
    expect(portsOf(policy.spec?.egress)).toEqual(['53/TCP', '53/UDP', '5432/TCP', '6379/TCP']);
  });

  test('nothing reaches the migration Job; it reaches only Postgres and DNS', () => {
    const { job, policies } = parts();
    const policy = only(
      policies.filter((p) => selects(p.spec?.podSelector?.matchLabels, job.spec?.template.metadata?.labels)),
      'policy selecting the migration pods',
    );
    expect(policy.spec?.policyTypes?.slice().sort()).toEqual(['Egress', 'Ingress']);
    expect(policy.spec?.ingress).toBeUndefined();
    for (const rule of policy.spec?.egress ?? []) expect(rule.to?.length).toBeGreaterThan(0);
    expect(portsOf(policy.spec?.egress)).toEqual(['53/TCP', '53/UDP', '5432/TCP']);
  });

  test(`the ConfigMap is a ${overlay} configuration the service accepts, and holds nothing secret`, () => {
    const { configMap, api, readConfig } = parts();
    const config = readConfig();
    expect(api.envFrom).toEqual([{ configMapRef: { name: configMap.metadata?.name as string } }]);
    expect(config.appEnv).toBe(overlay as typeof config.appEnv);
    const keys = Object.keys(configMap.data ?? {});
    expect(keys).toEqual(
      expect.arrayContaining([
        'APP_ENV',
        'LOG_LEVEL',
        'RATE_LIMIT_PER_MINUTE',
        'TRUSTED_PROXIES',
        'REDIS_URL',
        'BUSINESS_TIME_ZONE',
        'FOUR_EYES',
      ]),
    );
    expect(keys.filter((key) => /DATABASE_URL|PASSWORD|TOKEN|SECRET/.test(key))).toEqual([]);
    expect(configMap.data?.REDIS_URL).not.toContain('@');
  });

  test('secrets come only by reference to Secrets the operator creates: the API role and the owner apart', () => {
    const { api, migrate, containers } = parts();
    const fromSecret = (container: IContainer) =>
      Object.fromEntries(
        (container.env ?? [])
          .filter((variable) => variable.valueFrom?.secretKeyRef)
          .map((variable) => [variable.name, variable.valueFrom?.secretKeyRef?.name]),
      );
    expect(fromSecret(api)).toEqual({ DATABASE_URL: 'branch-loans-api', METRICS_TOKEN: 'branch-loans-api' });
    expect(fromSecret(migrate)).toEqual({
      DATABASE_URL: 'branch-loans-migrate',
      API_DB_PASSWORD: 'branch-loans-migrate',
    });
    for (const container of containers) {
      const literal = (container.env ?? []).filter((variable) => variable.value !== undefined);
      expect(literal.filter((variable) => /DATABASE_URL|PASSWORD|TOKEN|SECRET/.test(variable.name))).toEqual(
        [],
      );
    }
  });

  test("the migration Job runs `bun run db:migrate` with the API's image, as the owner, for the API's role", () => {
    const { job, jobPod, api, migrate } = parts();
    expect(migrate.command).toEqual(['bun', 'run', 'db:migrate']);
    expect(packageScripts['db:migrate']).toBeDefined();
    expect(migrate.image).toBe(api.image as string);
    expect(jobPod.restartPolicy).toBe('Never');
    expect(job.spec?.backoffLimit).toBeLessThanOrEqual(3);
    expect(migrate.env?.map((variable) => variable.name).sort()).toEqual([
      'API_DB_PASSWORD',
      'API_DB_ROLE',
      'DATABASE_URL',
    ]);
  });

  test('the image is pinned to a release, never :latest', () => {
    const { api } = parts();
    expectPinned(api.image);
  });
});

describe.skipIf(kubectlMissing)('blue-green (deploy/kubernetes/blue-green)', () => {
  const { failure, warnings, objects } = blueGreen ?? { failure: 'not rendered', warnings: '', objects: [] };
  const production = renders.find((rendered) => rendered.overlay === 'production')?.objects ?? [];
  const slots = objects.filter(Deployment.is);
  const podLabels = (deployment: (typeof slots)[number]) => deployment.spec?.template.metadata?.labels;

  /** A slot's Deployment as production's would be: without its slot label, suffix, ConfigMap name and image. */
  function unslotted(deployment: (typeof slots)[number]) {
    const copy = structuredClone(deployment);
    const labelSets = [
      copy.spec?.selector.matchLabels,
      copy.spec?.template.metadata?.labels,
      ...(copy.spec?.template.spec?.topologySpreadConstraints ?? []).map((c) => c.labelSelector?.matchLabels),
    ];
    for (const labels of labelSets) delete labels?.[SLOT];
    for (const container of copy.spec?.template.spec?.containers ?? []) {
      delete container.image;
      delete container.envFrom;
    }
    return copy.spec;
  }

  test('renders with `kubectl kustomize`, with no warning, and every object validates', () => {
    expect(failure).toBeUndefined();
    expect(warnings).toBe('');
    expect(schemaProblems(objects)).toEqual([]);
  });

  test("two slots, each production's Deployment with only its slot, name, ConfigMap and image its own", () => {
    expect(slots.map((deployment) => deployment.metadata?.name).sort()).toEqual([
      'branch-loans-api-blue',
      'branch-loans-api-green',
    ]);
    const rolling = only(production.filter(Deployment.is), 'production Deployment');
    for (const slot of slots) {
      expect(unslotted(slot)).toEqual(unslotted(rolling));
      const colour = slot.metadata?.name?.replace('branch-loans-api-', '');
      expect(slot.spec?.selector.matchLabels?.[SLOT]).toBe(colour as string);
      const container = only(slot.spec?.template.spec?.containers ?? [], 'container');
      expectPinned(container.image);
      const configMap = container.envFrom?.[0]?.configMapRef?.name;
      expect(objects.filter(ConfigMap.is).map((object) => object.metadata?.name)).toContain(configMap);
    }
    // Neither Deployment (nor its autoscaler) counts the other's pods.
    const [blue, green] = slots as [(typeof slots)[number], (typeof slots)[number]];
    expect(selects(blue.spec?.selector.matchLabels, podLabels(green))).toBe(false);
    expect(selects(green.spec?.selector.matchLabels, podLabels(blue))).toBe(false);
  });

  test("the one Service sends traffic to one slot's pods; each slot has its own autoscaler, budget and Job", () => {
    const service = only(objects.filter(Service.is), 'Service');
    expect(slots.filter((slot) => selects(service.spec?.selector, podLabels(slot)))).toHaveLength(1);

    const names = slots.map((slot) => slot.metadata?.name ?? '').sort();
    const hpas = objects.filter(HorizontalPodAutoscaler.is);
    expect(hpas.map((hpa) => hpa.spec?.scaleTargetRef.name).sort()).toEqual(names);
    for (const pdb of objects.filter(PodDisruptionBudget.is)) {
      const covered = slots.filter((slot) => selects(pdb.spec?.selector?.matchLabels, podLabels(slot)));
      expect(covered).toHaveLength(1);
    }
    const jobs = objects.filter(Job.is);
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      const slot = slots.find(
        (deployment) => deployment.metadata?.labels?.[SLOT] === job.metadata?.labels?.[SLOT],
      );
      expect(job.spec?.template.spec?.containers[0]?.image).toBe(
        slot?.spec?.template.spec?.containers[0]?.image as string,
      );
    }
    // The policies hold for the pods of both slots.
    for (const policy of objects.filter(NetworkPolicy.is)) {
      const covered = [...slots, ...objects.filter(Job.is)].filter((workload) =>
        selects(policy.spec?.podSelector?.matchLabels, workload.spec?.template.metadata?.labels),
      );
      expect(covered).toHaveLength(2);
    }
  });
});
