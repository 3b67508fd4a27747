/**
 * The Helm chart in deploy/helm/vectra, through the real `helm` (installed by .ci/helm-setup
 * at .tools/bin/helm, or VECTRA_HELM): `helm lint --strict`, then `helm template` with the
 * default values and with every option on, each manifest parsed as YAML (js-yaml) and checked per kind,
 * the selectors against the pod labels, and the environment the pods get loaded by Vectra's
 * own configuration loader. No cluster here: nothing is applied or checked against a real
 * API server's schemas.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { CONFIG_KEYS } from '../../src/config/keys';
import { loadConfig } from '../../src/config/loader';

const ROOT = join(__dirname, '..', '..');
const CHART = join(ROOT, 'deploy', 'helm', 'vectra');

function findHelm(): string | undefined {
  const candidates = [process.env.VECTRA_HELM, join(ROOT, '.tools', 'bin', 'helm'), 'helm'];
  return candidates.find(
    (helm) => helm !== undefined && spawnSync(helm, ['version', '--short']).status === 0,
  );
}

const HELM = findHelm();

function describeWithHelm(): jest.Describe {
  if (HELM) return describe;
  if (process.env.CI) throw new Error('CI requires helm: run .ci/helm-setup first');
  console.warn('\n*** helm not found: skipping the chart tests (run .ci/helm-setup) ***\n');
  return describe.skip;
}

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(HELM!, args, { encoding: 'utf8', cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Renders the chart with `--set` values; fails the test on a render error. */
function render(sets: string[] = []): any[] {
  const result = helm(['template', 'rel', CHART, ...sets.flatMap((s) => ['--set', s])]);
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  // js-yaml throws on invalid YAML; `---` separators with nothing between them load as null.
  return loadAll(result.stdout).filter((manifest) => manifest !== null) as any[];
}

const only = (manifests: any[], kind: string): any => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
};

/** True when every label of `selector` is on `labels`. */
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([name, value]) => labels[name] === value);

/** The environment a pod of the Deployment gets, secrets replaced by sample values. */
function podEnvironment(manifests: any[]): Record<string, string> {
  const configMap = only(manifests, 'ConfigMap');
  const container = only(manifests, 'Deployment').spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const source of container.envFrom) {
    expect(source.configMapRef.name).toBe(configMap.metadata.name);
    Object.assign(env, configMap.data);
  }
  const samples: Record<string, string> = {
    System__Storage__Database__Providers__Postgres__ConnectionString:
      'Host=db;Port=5432;Database=vectra;Username=vectra;Password=p',
    System__Storage__Cache__Providers__Redis__ConnectionString: 'redis:6379',
    Security__Admin__BootstrapToken: `vec_adm_${'A'.repeat(43)}`,
  };
  for (const entry of container.env ?? []) {
    env[entry.name] = entry.value ?? samples[entry.name];
  }
  return env;
}

/** The volume behind the mount at `path`. */
function volumeAt(deployment: any, path: string): any {
  const pod = deployment.spec.template.spec;
  const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === path);
  expect(mount).toBeDefined();
  return pod.volumes.find((v: any) => v.name === mount.name);
}

const ALL_ON = [
  'replicaCount=3',
  'networkPolicy.enabled=true',
  'proxy.caSecret=vectra-proxy-ca',
  'https.enabled=true',
  'https.existingSecret=vectra-https',
  'security.bootstrapToken.existingSecret=vectra-bootstrap',
  'policies.configMap=vectra-policies',
];

describeWithHelm()('Helm chart deploy/helm/vectra', () => {
  it('passes helm lint --strict', () => {
    const result = helm(['lint', '--strict', CHART]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  describe('default values', () => {
    let manifests: any[] = [];
    beforeAll(() => {
      manifests = render();
    });
    const deployment = () => only(manifests, 'Deployment');
    const pod = () => deployment().spec.template.spec;
    const container = () => pod().containers[0];

    it('renders a ConfigMap, a Deployment, a Service and a PodDisruptionBudget', () => {
      expect(manifests.map((m) => m.kind).sort()).toEqual([
        'ConfigMap',
        'Deployment',
        'PodDisruptionBudget',
        'Service',
      ]);
      for (const manifest of manifests) {
        expect(typeof manifest.apiVersion).toBe('string');
        expect(manifest.metadata.name).toBe('rel-vectra');
        expect(manifest.metadata.labels['app.kubernetes.io/instance']).toBe('rel');
      }
    });

    it('runs replicaCount pods of the image, with the API and proxy ports', () => {
      expect(deployment().spec.replicas).toBe(2);
      expect(container().image).toBe('vectra:0.1.0');
      expect(container().args).toEqual(['serve']);
      expect(container().ports.map((p: any) => [p.name, p.containerPort])).toEqual([
        ['http', 7080],
        ['proxy', 7081],
      ]);
      const podLabels = deployment().spec.template.metadata.labels;
      expect(selects(deployment().spec.selector.matchLabels, podLabels)).toBe(true);
    });

    it('probes /health for readiness and start-up, and the API port for liveness', () => {
      expect(container().readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(container().startupProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(container().livenessProbe.tcpSocket).toEqual({ port: 'http' });
    });

    it('runs as non-root with a read-only root, no capabilities and the default seccomp profile', () => {
      expect(pod().securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod().securityContext.runAsUser).toBeGreaterThan(0);
      expect(container().securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod().automountServiceAccountToken).toBe(false);
      // Where Vectra writes is a volume, not the read-only root.
      for (const path of ['/data', '/app/logs', '/tmp']) {
        expect(volumeAt(deployment(), path)).toHaveProperty('emptyDir');
      }
    });

    it('takes the connection strings from the named Secrets', () => {
      const refs = Object.fromEntries(
        container().env.map((e: any) => [e.name, e.valueFrom?.secretKeyRef]),
      );
      expect(refs).toEqual({
        System__Storage__Database__Providers__Postgres__ConnectionString: {
          name: 'vectra-postgres',
          key: 'connection-string',
        },
        System__Storage__Cache__Providers__Redis__ConnectionString: {
          name: 'vectra-redis',
          key: 'connection-string',
        },
      });
      // No secret value in the ConfigMap: the chart holds none.
      expect(JSON.stringify(only(manifests, 'ConfigMap').data)).not.toMatch(/Password=|redis:/);
    });

    it('mounts the master password Secret where Security__MasterPasswordFile points', () => {
      const env = podEnvironment(manifests);
      const file = env.Security__MasterPasswordFile;
      const mount = container().volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`));
      expect(mount.readOnly).toBe(true);
      const volume = pod().volumes.find((v: any) => v.name === mount.name);
      expect(volume.secret.secretName).toBe('vectra-master-password');
      expect(volume.secret.items).toEqual([
        { key: 'master-password', path: file.slice(mount.mountPath.length + 1) },
      ]);
    });

    it('gives the pods only real configuration keys, which Vectra loads without a problem', () => {
      const env = podEnvironment(manifests);
      const known = new Set(CONFIG_KEYS.map((key) => key.envVar));
      for (const name of Object.keys(env).filter((n) => n.includes('__'))) {
        expect(known).toContain(name);
      }
      const { config } = loadConfig({ baseDir: ROOT, env });
      expect(config.System.Storage.Database.DefaultProvider).toBe('Postgres');
      expect(config.System.Storage.Cache.DefaultProvider).toBe('Redis');
      expect(config.System.Server.Http.Port).toBe(7080);
      expect(config.System.Proxy.Port).toBe(7081);
    });

    it('selects the Deployment pods from the Service and the PodDisruptionBudget', () => {
      const podLabels = deployment().spec.template.metadata.labels;
      const service = only(manifests, 'Service');
      expect(selects(service.spec.selector, podLabels)).toBe(true);
      const portNames = container().ports.map((p: any) => p.name);
      expect(service.spec.ports.map((p: any) => [p.port, p.targetPort])).toEqual([
        [7080, 'http'],
        [7081, 'proxy'],
      ]);
      for (const port of service.spec.ports) expect(portNames).toContain(port.targetPort);
      const pdb = only(manifests, 'PodDisruptionBudget');
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec.selector.matchLabels).toEqual(deployment().spec.selector.matchLabels);
      expect(pdb.spec.minAvailable).toBeLessThan(deployment().spec.replicas);
    });

    it('mounts every volume it names', () => {
      const volumes = new Set(pod().volumes.map((v: any) => v.name));
      for (const mount of container().volumeMounts) expect(volumes).toContain(mount.name);
    });
  });

  describe('every option on', () => {
    let manifests: any[] = [];
    beforeAll(() => {
      manifests = render(ALL_ON);
    });
    const deployment = () => only(manifests, 'Deployment');
    const container = () => deployment().spec.template.spec.containers[0];

    it('points the proxy CA settings at the mounted kubernetes.io/tls Secret', () => {
      const env = podEnvironment(manifests);
      const ca = volumeAt(deployment(), '/etc/vectra/proxy-ca');
      expect(ca.secret.secretName).toBe('vectra-proxy-ca');
      expect(env.System__Proxy__CaCertFile).toBe('/etc/vectra/proxy-ca/tls.crt');
      expect(env.System__Proxy__CaKeyFile).toBe('/etc/vectra/proxy-ca/tls.key');
      expect(volumeAt(deployment(), '/etc/vectra/https').secret.secretName).toBe('vectra-https');
      expect(env.System__Server__Https__Certificate__Path).toBe('/etc/vectra/https/tls.crt');
      expect(volumeAt(deployment(), '/policies').configMap.name).toBe('vectra-policies');
      const { config } = loadConfig({ baseDir: ROOT, env });
      expect(config.System.Server.Https.Enabled).toBe(true);
      expect(config.Security.Admin.BootstrapToken).toMatch(/^vec_adm_/);
    });

    it('serves HTTPS on its own port, through the Service', () => {
      expect(deployment().spec.replicas).toBe(3);
      expect(container().ports.map((p: any) => p.name)).toEqual(['http', 'proxy', 'https']);
      const service = only(manifests, 'Service');
      expect(service.spec.ports.map((p: any) => p.targetPort)).toEqual(['http', 'proxy', 'https']);
    });

    it('renders a NetworkPolicy for the pods, on ports they have', () => {
      const policy = only(manifests, 'NetworkPolicy');
      expect(policy.apiVersion).toBe('networking.k8s.io/v1');
      const podLabels = deployment().spec.template.metadata.labels;
      expect(selects(policy.spec.podSelector.matchLabels, podLabels)).toBe(true);
      expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      const portNames = container().ports.map((p: any) => p.name);
      const ingressPorts = policy.spec.ingress.flatMap((rule: any) =>
        rule.ports.map((p: any) => p.port),
      );
      expect(ingressPorts.sort()).toEqual([...portNames].sort());
      const egressPorts = policy.spec.egress.flatMap((rule: any) =>
        rule.ports.map((p: any) => p.port),
      );
      expect(egressPorts).toEqual(expect.arrayContaining([53, 5432, 6379, 443]));
    });
  });

  it('keeps SQLite on a PersistentVolumeClaim with one replica, replaced not rolled', () => {
    const manifests = render([
      'replicaCount=1',
      'database.provider=Sqlite',
      'cache.provider=Memory',
      'persistence.enabled=true',
    ]);
    const deployment = only(manifests, 'Deployment');
    const claim = only(manifests, 'PersistentVolumeClaim');
    expect(volumeAt(deployment, '/data').persistentVolumeClaim.claimName).toBe(claim.metadata.name);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(deployment.spec.template.spec.containers[0].env ?? []).toEqual([]);
    const { config } = loadConfig({ baseDir: ROOT, env: podEnvironment(manifests) });
    expect(config.System.Storage.Database.Providers.Sqlite.ConnectionString).toBe(
      'Data Source=/data/vectra.db',
    );
  });

  it.each([
    [['database.provider=Sqlite'], /set replicaCount to 1/],
    [['security.masterPassword.existingSecret='], /security\.masterPassword\.existingSecret/],
    [['database.postgres.existingSecret='], /database\.postgres\.existingSecret/],
    [['database.provider=MySql'], /database\.provider must be Postgres or Sqlite/],
    [['config.System__Proxy__Port=9'], /config\.System__Proxy__Port is set by the chart/],
  ])('refuses to render with %j', (sets, message) => {
    const result = helm(['template', 'rel', CHART, ...sets.flatMap((s) => ['--set', s])]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});
