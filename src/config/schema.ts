import { z } from 'zod';
import { parseCidr, parseHostPort } from '../core/net.js';
import { MAX_STARTUPS_FORMAT, parseMaxStartups } from './maxStartups.js';

/*
 * The one configuration schema. Every section is strict (unknown keys are
 * errors naming the key) and defaulted, so `berth serve` with no file works.
 * Keys listed in shared/DESIGN.md are a contract: add, never rename.
 */

const HOST_PORT = 'expected "host:port" with a port from 1 to 65535 (0 picks a free one), e.g. "127.0.0.1:8000"';
// A bare port (http: 8000) reaches the schema as a YAML number; it gets the same hint.
const hostPort = z.string({ error: HOST_PORT }).refine((v) => parseHostPort(v) !== null, HOST_PORT);

const cidr = z.string().refine((v) => parseCidr(v) !== null, 'expected a CIDR such as "10.0.0.0/8" or "::1/128"');
const port = z.number().int().min(1).max(65535);
const seconds = (min = 0) => z.number().min(min);
const url = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL');

const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name');

const devAuth = z
  .strictObject({
    allowRemote: z.boolean().default(false),
  })
  .prefault({});

const headerAuth = z
  .strictObject({
    // What oauth2-proxy sets (and removes from clients) in front of an upstream; list only headers your proxy overwrites.
    userHeaders: z.array(headerName).min(1).default(['X-Forwarded-Preferred-Username']),
    emailHeaders: z.array(headerName).default(['X-Forwarded-Email']),
    groupsHeaders: z.array(headerName).default(['X-Forwarded-Groups']),
    trustedProxies: z.array(cidr).default(['127.0.0.0/8', '::1/128']),
  })
  .prefault({});

const oidcAuth = z
  .strictObject({
    issuer: url.nullable().default(null),
    clientId: z.string().nullable().default(null),
    clientSecret: z.string().nullable().default(null),
    clientSecretFile: z.string().nullable().default(null),
    scopes: z.array(z.string()).default(['openid', 'profile', 'email']),
    usernameClaim: z.string().default('preferred_username'),
    fallbackUsernameClaim: z.string().nullable().default('email'),
    groupsClaim: z.string().default('groups'),
    adminGroups: z.array(z.string()).default([]),
    allowedUsers: z.array(z.string()).default([]),
    allowedGroups: z.array(z.string()).default([]),
  })
  .prefault({});

const auth = z
  .strictObject({
    mode: z.enum(['dev', 'header', 'oidc']).default('dev'),
    admins: z.array(z.string()).default([]),
    sessionSecret: z.string().min(32, 'expected at least 32 characters').nullable().default(null),
    sessionSeconds: seconds(60).default(8 * 3600),
    dev: devAuth,
    header: headerAuth,
    oidc: oidcAuth,
  })
  .prefault({});

const dockerRuntime = z
  .strictObject({
    socket: z.string().nullable().default(null),
    namePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,14}$/, 'expected a short lowercase DNS label, e.g. "berth"')
      .default('berth'),
    reach: z.enum(['auto', 'network', 'published']).default('auto'),
    enterNamespace: z.enum(['auto', 'off']).default('auto'),
    network: z.string().default('berth'),
    /** Run berths where the engine cannot keep them apart, accepting that they can reach each other's ports. */
    allowUnisolatedBerths: z.boolean().default(false),
    /** Podman: where each berth's own network takes its /29 from; every address in it but the blocks' gateways counts as a berth's. */
    subnetPool: z
      .string()
      .refine((v) => {
        const parsed = parseCidr(v);
        return parsed !== null && parsed.family === 'ipv4' && parsed.prefix <= 29;
      }, 'expected an IPv4 CIDR of /29 or wider, e.g. "10.80.0.0/16"')
      .default('10.80.0.0/16'),
    tls: z
      .strictObject({
        ca: z.string().nullable().default(null),
        cert: z.string().nullable().default(null),
        key: z.string().nullable().default(null),
      })
      .prefault({}),
    allowedMounts: z.array(z.string()).default([]),
  })
  .prefault({});

const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lowercase DNS label, e.g. "berth"');
/** Kubernetes label and annotation keys: an optional DNS-subdomain prefix and a name. */
const kubeKey = z.string().regex(/^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, 'expected a Kubernetes key such as "example.com/team"');
const kubeQuantity = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/, 'expected a Kubernetes quantity such as "10Gi"');

const toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Equal', 'Exists']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

const kubernetesRuntime = z
  .strictObject({
    /** null: the in-cluster service account, else $KUBECONFIG, else ~/.kube/config. */
    kubeconfig: z.string().nullable().default(null),
    context: z.string().nullable().default(null),
    namespace: dnsLabel.default('berth'),
    namePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,14}$/, 'expected a short lowercase DNS label, e.g. "berth"')
      .default('berth'),
    reach: z.enum(['auto', 'podIP', 'portForward']).default('auto'),
    storageClassName: z.string().nullable().default(null),
    homeSize: kubeQuantity.default('10Gi'),
    /** null: the namespace's default account, with no token mounted in berths. */
    serviceAccountName: z.string().nullable().default(null),
    nodeSelector: z.record(kubeKey, z.string()).default({}),
    tolerations: z.array(toleration).default([]),
    imagePullSecrets: z.array(z.string()).default([]),
    labels: z.record(kubeKey, z.string()).default({}),
    annotations: z.record(kubeKey, z.string()).default({}),
    /** A partial pod spec merged last (src/runtime/kubernetes/podOverrides.ts says what it may not change). */
    podOverrides: z.record(z.string(), z.unknown()).default({}),
    /** Extra environment.mounts berths may use: "pvc/<claim>" or "configmap/<name>". */
    allowedMounts: z.array(z.string().regex(/^(pvc|configmap)\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'expected "pvc/<claim>" or "configmap/<name>"')).default([]),
  })
  .prefault({});

const localRuntime = z
  .strictObject({
    /** auto: bubblewrap when it is installed and works, else none (with a warning). */
    sandbox: z.enum(['auto', 'bwrap', 'off']).default('auto'),
    /** Without a sandbox, any berth can read dataDir and every home: only dev sign-in may run so unless this is set. */
    allowUnsandboxed: z.boolean().default(false),
  })
  .prefault({});

const runtime = z
  .strictObject({
    kind: z.enum(['local', 'docker', 'kubernetes', 'attach']).default('local'),
    local: localRuntime,
    docker: dockerRuntime,
    kubernetes: kubernetesRuntime,
  })
  .prefault({});

const mount = z.strictObject({
  source: z.string(),
  target: z.string().startsWith('/', 'expected an absolute path'),
  readOnly: z.boolean().default(true),
});

// Each environment key once, so the template and profile overrides (the same keys, none defaulted) check alike.
const absolutePath = z.string().startsWith('/', 'expected an absolute path');
const argv = z.array(z.string()).min(1);
const envVars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), z.string());
const memorySize = z.string().regex(/^\d+(\.\d+)?[kmgKMG]?i?[bB]?$/, 'expected a size such as "512m" or "2g"');
const cpus = z.number().positive();
const pids = z.number().int().positive();
const capabilityList = z.array(z.string().regex(/^[A-Z_]+$/, 'expected a capability name such as "CHOWN"'));

const environment = z
  .strictObject({
    image: z.string().nullable().default(null),
    command: argv.nullable().default(null),
    port: port.default(8080),
    env: envVars.default({}),
    homePath: absolutePath.default('/home/berth'),
    readyPath: z.string().startsWith('/', 'expected a path starting with /').nullable().default(null),
    workingDir: z.string().nullable().default(null),
    user: z.string().nullable().default(null),
    shell: argv.nullable().default(null),
    limits: z
      .strictObject({
        memory: memorySize.nullable().default(null),
        cpus: cpus.nullable().default(null),
        pids: pids.nullable().default(null),
      })
      .prefault({}),
    capabilities: capabilityList.default(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL']),
    readOnlyRoot: z.boolean().default(false),
    mounts: z.array(mount).default([]),
  })
  .prefault({});

/**
 * What a profile or one of its choices changes: any environment key that
 * shapes the berth (env and limits merge key by key, the rest replace; the
 * gateway-side readyPath and shell stay the template's), and the Kubernetes keys that
 * make sense per user. Mounts still pass the runtime's allowedMounts.
 */
export const profileOverrides = z
  .strictObject({
    image: z.string().optional(),
    command: argv.optional(),
    port: port.optional(),
    env: envVars.optional(),
    homePath: absolutePath.optional(),
    workingDir: z.string().optional(),
    user: z.string().optional(),
    limits: z.strictObject({ memory: memorySize.optional(), cpus: cpus.optional(), pids: pids.optional() }).optional(),
    capabilities: capabilityList.optional(),
    readOnlyRoot: z.boolean().optional(),
    mounts: z.array(mount).optional(),
    kubernetes: z
      .strictObject({
        nodeSelector: z.record(kubeKey, z.string()).optional(),
        tolerations: z.array(toleration).optional(),
        /** Extended resources such as nvidia.com/gpu: set as the container's request and limit alike. */
        resources: z.record(kubeKey, kubeQuantity).optional(),
      })
      .optional(),
  })
  .prefault({});

const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lowercase slug such as "gpu-large"');
/** Who may pick a profile or choice: empty lists on both mean everyone. */
const audience = {
  allowedGroups: z.array(z.string().min(1)).default([]),
  allowedUsers: z.array(z.string().min(1)).default([]),
};

const profileChoice = z.strictObject({
  slug,
  displayName: z.string().min(1),
  description: z.string().default(''),
  default: z.boolean().default(false),
  ...audience,
  overrides: profileOverrides,
});

const profileOption = z
  .strictObject({
    slug,
    displayName: z.string().min(1),
    choices: z.array(profileChoice).min(1),
  })
  .refine((o) => unique(o.choices.map((c) => c.slug)), { message: 'choice slugs must be unique', path: ['choices'] })
  .refine((o) => o.choices.filter((c) => c.default).length <= 1, { message: 'at most one choice may be the default', path: ['choices'] });

/** A profile is a choice (the same fields, the same rules) that may offer options of its own. */
const profile = profileChoice
  .extend({ options: z.array(profileOption).default([]) })
  .refine((p) => unique(p.options.map((o) => o.slug)), { message: 'option slugs must be unique', path: ['options'] });

const profiles = z
  .array(profile)
  .default([])
  .refine((list) => unique(list.map((p) => p.slug)), 'profile slugs must be unique')
  .refine((list) => list.filter((p) => p.default).length <= 1, 'at most one profile may be the default');

function unique(values: readonly string[]): boolean {
  return new Set(values).size === values.length;
}

const spawn = z
  .strictObject({
    timeoutSeconds: seconds(1).default(120),
    holdSeconds: seconds(0).default(30),
    concurrency: z.number().int().min(1).default(8),
    stopGraceSeconds: seconds(0).default(10),
    /** A completed sign-in (dev, OIDC callback) starts (or resumes) the user's berth while the browser follows its redirects. */
    startOnSignIn: z.boolean().default(true),
  })
  .prefault({});

const idle = z
  .strictObject({
    stopAfterSeconds: seconds(1).default(3600),
    pauseAfterSeconds: seconds(1).nullable().default(null),
    checkEverySeconds: seconds(1).default(30),
    action: z.enum(['stop', 'remove']).default('stop'),
    countBerthData: z.boolean().default(false),
  })
  .prefault({});

const http = z
  .strictObject({
    headersTimeoutSeconds: seconds(1).default(30),
    idleTimeoutSeconds: seconds(1).default(120),
    shutdownGraceSeconds: seconds(0).default(10),
    /** On SIGTERM, how long /_berth/readyz answers 503 while requests are still served, before the listener closes. */
    drainSeconds: seconds(0).default(0),
  })
  .prefault({});

// "10" arrives from YAML (or BERTH_SSH_MAX_STARTUPS=10) as a number; OpenSSH takes it, so does Berth.
const maxStartups = z
  .union([z.string(), z.number()], { error: MAX_STARTUPS_FORMAT })
  .transform(String)
  .refine((v) => parseMaxStartups(v) !== null, MAX_STARTUPS_FORMAT);

const algorithmList = z.array(z.string().min(1)).min(1).nullable().default(null);

const ssh = z
  .strictObject({
    authorizedKeysDir: z.string().nullable().default(null),
    webhook: z
      .strictObject({
        url: url.nullable().default(null),
        timeoutSeconds: seconds(1).default(5),
      })
      .prefault({}),
    banner: z.string().nullable().default(null),
    loginGraceSeconds: seconds(0).default(60),
    maxStartups: maxStartups.default('10:30:100'),
    perSourceMaxStartups: z.number().int().min(0).default(8),
    idleTimeoutSeconds: seconds(0).default(0),
    maxSessionSeconds: seconds(0).default(0),
    maxSessionsPerUser: z.number().int().min(0).default(0),
    keepaliveSeconds: seconds(0).default(30),
    envAllowlist: z.array(z.string()).default(['LANG', 'LC_*', 'TERM']),
    sftpServerPath: z.array(z.string()).default(['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server']),
    forwarding: z
      .strictObject({
        allowedPorts: z.array(port).nullable().default(null),
        remote: z.boolean().default(false),
      })
      .prefault({}),
    /** Each list, when set, replaces the modern default of src/ssh/algorithms.ts. */
    algorithms: z
      .strictObject({
        kex: algorithmList,
        cipher: algorithmList,
        hmac: algorithmList,
        serverHostKey: algorithmList,
      })
      .prefault({}),
  })
  .prefault({});

const apps = z
  .strictObject({
    domain: z
      .string()
      .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$/i, 'expected a DNS name such as "apps.example.com"')
      .nullable()
      .default(null),
    // Off: a berth's Domain= cookie becomes host-only, so one app host cannot plant cookies on another's (cookie tossing).
    allowDomainCookies: z.boolean().default(false),
  })
  .prefault({});

const metrics = z
  .strictObject({
    // Loopback and the private ranges (RFC 1918, IPv6 unique local): where scrapers run, not the internet.
    allowFrom: z.array(cidr).default(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
  })
  .prefault({});

const store = z
  .strictObject({
    kind: z.enum(['sqlite', 'postgres']).default('sqlite'),
    /** postgres:// URL; null with kind postgres takes libpq's PG* variables (PGHOST, PGUSER, PGPASSWORD, …). */
    url: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'expected a postgres:// or postgresql:// URL')
      .nullable()
      .default(null),
    /** A file holding the URL, so its password stays out of the configuration. */
    urlFile: z.string().nullable().default(null),
  })
  .refine((s) => s.url === null || s.urlFile === null, 'set store.url or store.urlFile, not both')
  .refine((s) => s.kind === 'postgres' || (s.url === null && s.urlFile === null), 'store.url and store.urlFile need store.kind: postgres')
  .prefault({});

/** A container label key as the engine takes it: no "=" and no white space. */
const labelKey = z.string().regex(/^[^=\s]+$/, 'expected a label key such as "berth.user"');

/** runtime.kind attach: berths are containers something else runs, found by their labels (src/runtime/attach/). */
const attach = z
  .strictObject({
    userLabel: labelKey.default('berth.user'),
    /** "key=value" every attached container must carry, so a stray container cannot claim a user. */
    requireLabel: z.string().regex(/^[^=\s]+=\S*$/, 'expected "key=value", e.g. "berth.attach=true"').default('berth.attach=true'),
    /** Where SSH keys come from, asked in this order. */
    keySources: z
      .array(z.enum(['registered', 'label', 'files']))
      .min(1)
      .refine((sources) => new Set(sources).size === sources.length, 'name each source once')
      .default(['registered']),
    /** The label holding authorized_keys lines (key source "label"). */
    keysLabel: labelKey.default('berth.authorizedKeys'),
    /** The label holding more authorized_keys paths, comma-separated (key source "files"). */
    keyFilesLabel: labelKey.default('berth.authorizedKeysFiles'),
    /** authorized_keys paths inside the container, {user} standing for the username (key source "files"). */
    keyFiles: z.array(z.string().startsWith('/', 'expected an absolute path')).default(['/home/{user}/.ssh/authorized_keys']),
    /** Larger authorized_keys files are refused, not read. */
    maxKeyFileBytes: z.number().int().min(1).max(1024 * 1024).default(64 * 1024),
    /** The label naming the container's web port; without it, environment.port. */
    portLabel: labelKey.default('berth.port'),
  })
  .prefault({});

const audit = z
  .strictObject({
    /** Events older than this are deleted (every hour). */
    retainDays: z.number().int().min(1).default(90),
    /** A file every event is also appended to as a JSON line (for a SIEM); reopened on SIGHUP. */
    file: z.string().min(1).nullable().default(null),
    /** Every event also as a JSON line on stdout, beside the gateway's log. */
    stdout: z.boolean().default(false),
  })
  .prefault({});

const terminal = z
  .strictObject({
    /** How long a web terminal's shell outlives its last dropped socket, waiting for a reconnect. */
    keepSeconds: seconds(0).default(600),
    /** Whether an admin may open a terminal into another user's berth (audited, and shown to that user). */
    adminAccess: z.boolean().default(false),
  })
  .prefault({});

const recording = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Keystrokes too (off: they include typed passwords). */
    input: z.boolean().default(false),
    /** Per session; past it the recording ends with a marker and the session goes on. */
    maxBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** strict: a pty session whose recording cannot be written is refused; best-effort: it runs, and says it is not recorded. */
    failMode: z.enum(['best-effort', 'strict']).default('best-effort'),
  })
  .prefault({});

/** ContainerSSH's config webhook, asked before every spawn (src/profiles/configWebhook.ts). */
const configWebhook = z
  .strictObject({
    url: url.nullable().default(null),
    /** One attempt's limit; attempts repeat with back-off until spawn.timeoutSeconds is spent. */
    timeoutSeconds: seconds(0.1).default(2),
    /** How long one user's answer is reused; 0 asks before every spawn. */
    cacheSeconds: seconds(0).default(0),
    tls: z
      .strictObject({
        /** Files in PEM form: the CA that signed the webhook's certificate, and the client certificate and key Berth presents. */
        ca: z.string().nullable().default(null),
        cert: z.string().nullable().default(null),
        key: z.string().nullable().default(null),
      })
      .refine((t) => (t.cert === null) === (t.key === null), 'set configWebhook.tls.cert and configWebhook.tls.key together')
      .prefault({}),
  })
  .prefault({});

export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./.berth'),
  publicUrl: url.default('http://127.0.0.1:8000'),
  listen: z
    .strictObject({
      http: hostPort.default('127.0.0.1:8000'),
      ssh: hostPort.nullable().default('127.0.0.1:2222'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** null: pretty when stdout is a terminal, else JSON lines. */
      format: z.enum(['json', 'pretty']).nullable().default(null),
      /** A file the gateway's log is appended to instead of stdout; reopened on SIGHUP (logrotate). */
      file: z.string().min(1).nullable().default(null),
      /** One JSON line per request the gateway serves or proxies (src/http/accessLog.ts). */
      access: z.boolean().default(false),
      /** Where the access lines go; null: beside the gateway's log (log.file or stdout). Reopened on SIGHUP. */
      accessFile: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
  auth,
  runtime,
  environment,
  spawn,
  idle,
  http,
  ssh,
  apps,
  store,
  metrics,
  attach,
  audit,
  profiles,
  /** ask: a first start with more than one profile to pick from waits on the loading page for the choice; default: starts the default at once. */
  profilesChoice: z.enum(['ask', 'default']).default('ask'),
  configWebhook,
  terminal,
  recording,
  /** Gateway processes on this host sharing its ports (`berth serve --workers N`, src/cli/workers.ts). */
  workers: z.number().int().min(1).max(256).default(1),
})
  // Workers are gateways sharing berths: only through PostgreSQL, and with a runtime whose berths every process sees.
  .refine((c) => c.workers === 1 || c.store.kind === 'postgres', {
    path: ['workers'],
    message: 'workers above 1 share berths through the store: set store.kind: postgres (and store.url or store.urlFile), or run one worker on SQLite',
  })
  .refine((c) => c.workers === 1 || c.runtime.kind !== 'local', {
    path: ['workers'],
    message: "workers above 1 need a runtime every worker sees (docker or kubernetes): local berths live in the process that started them; set runtime.kind, or run one worker",
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
