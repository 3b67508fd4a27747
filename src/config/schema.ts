/**
 * The configuration schema: every key, its default, its format and what it means. The layout
 * follows the seed's appsettings.json (`System`, `Security`, `Policy`, `Semantic`,
 * `HumanInTheLoop`, `Observability`, `SecretManagement`); `config/appsettings.json` holds the
 * same defaults (test/unit/config.test.ts keeps the two in step).
 */
import convict from 'convict';
import {
  overrideListSyntax,
  parseOverrideList,
  type OverrideTier,
} from './rate-limit-override-list';

export const LOG_LEVELS = [
  'Trace',
  'Debug',
  'Information',
  'Warning',
  'Error',
  'Critical',
  'None',
] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

declare const accepts: unique symbol;

/** A format function, tagged (in the type only) with the type of the values it accepts. */
type TypedFormat<T> = ((x: unknown) => void) & { readonly [accepts]?: T };

/** The value type of each named format registered below. */
interface NamedFormatTypes {
  'port-or-zero': number;
  'positive-int': number;
  'non-negative-int': number;
  ratio: number;
  'strict-boolean': boolean;
  text: string;
  'http-url-or-empty': string;
}

interface SchemaLeaf {
  doc: string;
  format: keyof NamedFormatTypes | TypedFormat<unknown>;
  default: unknown;
  sensitive?: boolean;
}

interface SchemaSection {
  [name: string]: SchemaLeaf | SchemaSection;
}

type ValueOf<F> = F extends keyof NamedFormatTypes
  ? NamedFormatTypes[F]
  : F extends TypedFormat<infer T>
    ? T
    : never;

/** The configuration a schema section describes: each leaf becomes the type of its format. */
type ConfigOf<S> = {
  -readonly [K in keyof S]: S[K] extends { readonly format: infer F } ? ValueOf<F> : ConfigOf<S[K]>;
};

function addFormat(name: keyof NamedFormatTypes, validate: (x: unknown) => void): void {
  convict.addFormat({ name, validate });
}

function assertThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

addFormat('port-or-zero', (x: unknown) =>
  assertThat(
    isInt(x) && x >= 0 && x <= 65535,
    'must be an integer from 0 to 65535 (0 picks a free port)',
  ),
);
addFormat('positive-int', (x: unknown) =>
  assertThat(isInt(x) && x >= 1, 'must be a whole number of at least 1'),
);
addFormat('non-negative-int', (x: unknown) =>
  assertThat(isInt(x) && x >= 0, 'must be a whole number of at least 0'),
);
addFormat('ratio', (x: unknown) =>
  assertThat(typeof x === 'number' && x >= 0 && x <= 1, 'must be a number from 0 to 1'),
);
addFormat('strict-boolean', (x: unknown) =>
  assertThat(typeof x === 'boolean', 'must be true or false'),
);
addFormat('text', (x: unknown) => assertThat(typeof x === 'string', 'must be a string'));
addFormat('http-url-or-empty', (x: unknown) => {
  assertThat(typeof x === 'string', 'must be an http(s) URL or empty');
  if (x === '') return;
  let url: URL | undefined;
  try {
    url = new URL(x as string);
  } catch {
    url = undefined;
  }
  assertThat(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'),
    'must be an http(s) URL or empty',
  );
});

/** `name=requestsPerMinute` pairs of one rate-limit override tier (see rate-limit-override-list.ts). */
const overrideListFormat =
  (tier: OverrideTier): TypedFormat<string> =>
  (x: unknown) => {
    assertThat(typeof x === 'string', `must be ${overrideListSyntax(tier)}`);
    try {
      parseOverrideList(x as string, tier);
    } catch (error) {
      throw new Error(`must be ${overrideListSyntax(tier)}: ${(error as Error).message}`);
    }
  };

const enumFormat =
  <const T extends string>(values: readonly T[]): TypedFormat<T> =>
  (x: unknown) =>
    assertThat(
      typeof x === 'string' && (values as readonly string[]).includes(x),
      `must be one of: ${values.join(', ')}`,
    );

export const schema = {
  System: {
    Server: {
      Host: {
        doc: 'Address the API and proxy listeners bind to (0.0.0.0 for all IPv4 interfaces, :: for all).',
        format: 'text',
        default: '0.0.0.0',
      },
      Http: {
        Port: {
          doc: 'HTTP listener port of the API, /health and /metrics.',
          format: 'port-or-zero',
          default: 7080,
        },
      },
      Https: {
        Enabled: { doc: 'Enable the HTTPS listener.', format: 'strict-boolean', default: false },
        Port: { doc: 'HTTPS listener port.', format: 'port-or-zero', default: 7443 },
        Certificate: {
          Path: {
            doc: 'TLS certificate: a PFX/PKCS#12 file (with Password) or a PEM file (certificate, and the key unless KeyPath is set).',
            format: 'text',
            default: '',
          },
          Password: {
            doc: 'Password of the PFX file.',
            format: 'text',
            default: '',
            sensitive: true,
          },
          KeyPath: {
            doc: 'PEM private key, when it is not inside Certificate.Path.',
            format: 'text',
            default: '',
          },
        },
      },
      ShutdownTimeoutSeconds: {
        doc: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish before connections are closed.',
        format: 'non-negative-int',
        default: 10,
      },
      MaxRequestBodyBytes: {
        doc: 'Largest request body the API accepts.',
        format: 'positive-int',
        default: 1048576,
      },
      HeadersTimeoutMilliseconds: {
        doc: "Time a client has to send a request's complete header block to the API; then 408 and the connection closes (slow clients).",
        format: 'positive-int',
        default: 30_000,
      },
      RequestTimeoutMilliseconds: {
        doc: 'Time a client has to send a complete request (head and body) to the API; at least HeadersTimeoutMilliseconds.',
        format: 'positive-int',
        default: 300_000,
      },
    },
    Proxy: {
      Port: {
        doc: 'Forward proxy listener port (CONNECT and absolute-form HTTP).',
        format: 'port-or-zero',
        default: 7081,
      },
      UpstreamCaFile: {
        doc: 'Extra PEM CA bundle trusted for upstream TLS, besides the system roots (verification is never off).',
        format: 'text',
        default: '',
      },
      NetworkAllowlist: {
        doc: 'Comma-separated CIDRs the SSRF guard lets through (e.g. 10.0.0.0/8); metadata addresses stay blocked.',
        format: 'text',
        default: '',
      },
      CaCertFile: {
        doc: 'Operator-supplied CA certificate (PEM) for TLS interception; empty: generated on first start.',
        format: 'text',
        default: '',
      },
      CaKeyFile: { doc: 'Private key (PEM) of CaCertFile.', format: 'text', default: '' },
      LeafCacheSize: {
        doc: 'Leaf certificates kept in memory (LRU).',
        format: 'positive-int',
        default: 1000,
      },
      LeafValidityHours: {
        doc: 'Validity of generated leaf certificates; renewed before they expire.',
        format: 'positive-int',
        default: 72,
      },
      MaxRequestBodyBytes: {
        doc: 'Largest proxied request body.',
        format: 'positive-int',
        default: 10485760,
      },
      MaxResponseBodyBytes: {
        doc: 'Largest proxied response body.',
        format: 'positive-int',
        default: 104857600,
      },
      MaxHeaderBytes: {
        doc: 'Largest request header block.',
        format: 'positive-int',
        default: 32768,
      },
      MaxTunnelsPerAgent: {
        doc: 'Open CONNECT tunnels allowed per agent.',
        format: 'positive-int',
        default: 64,
      },
      UpstreamTimeoutSeconds: {
        doc: 'Time the upstream has to answer.',
        format: 'positive-int',
        default: 60,
      },
      HeadersTimeoutMilliseconds: {
        doc: "Time a client has to send a request's complete header block (proxy port, inside tunnels); then 408 and the connection closes.",
        format: 'positive-int',
        default: 30_000,
      },
      RequestTimeoutMilliseconds: {
        doc: 'Time a client has to send a complete request (head and body) to the proxy; at least HeadersTimeoutMilliseconds.',
        format: 'positive-int',
        default: 300_000,
      },
      TunnelIdleTimeoutMilliseconds: {
        doc: 'A CONNECT tunnel is closed when its first request or TLS handshake is not there, or it is idle between keep-alive requests, this long.',
        format: 'positive-int',
        default: 5_000,
      },
    },
    Audit: {
      RetentionDays: {
        doc: 'Audit rows older than this are deleted.',
        format: 'positive-int',
        default: 30,
      },
      MaxRows: {
        doc: 'Audit rows kept at most (oldest deleted first).',
        format: 'positive-int',
        default: 1000000,
      },
    },
    Storage: {
      DataDirectory: {
        doc: "Directory for Vectra's own files (SQLite database, key file, bootstrap token); created owner-only.",
        format: 'text',
        default: './data',
      },
      Database: {
        DefaultProvider: {
          doc: 'Database provider.',
          format: enumFormat(['Sqlite', 'Postgres']),
          default: 'Sqlite',
        },
        Providers: {
          Sqlite: {
            ConnectionString: {
              doc: 'SQLite connection string, `Data Source=<path>`.',
              format: 'text',
              default: 'Data Source=./data/vectra.db',
            },
          },
          Postgres: {
            ConnectionString: {
              doc: 'PostgreSQL connection string, `Host=…;Port=5432;Database=…;Username=…;Password=…` or `postgres://…`.',
              format: 'text',
              default: '',
              sensitive: true,
            },
          },
        },
      },
      Cache: {
        DefaultProvider: {
          doc: 'Cache provider.',
          format: enumFormat(['Memory', 'Redis']),
          default: 'Memory',
        },
        Providers: {
          Redis: {
            ConnectionString: {
              doc: 'Redis address, `host:port[,password=…][,ssl=true]` or `redis://…`/`rediss://…`.',
              format: 'text',
              default: 'localhost:6379',
              sensitive: true,
            },
          },
        },
      },
    },
    RateLimit: {
      DefaultRequestsPerMinute: {
        doc: 'Per-agent rate limit.',
        format: 'positive-int',
        default: 60,
      },
      Burst: {
        doc: 'Requests an agent may make at once above its per-minute rate (a burst allowance).',
        format: 'non-negative-int',
        default: 10,
      },
      AgentOverrides: {
        doc: 'Per-agent rates replacing the default: comma-separated name=requestsPerMinute pairs (e.g. ci-bot=600,scraper=10); API overrides win.',
        format: overrideListFormat('agents'),
        default: '',
      },
      VaultOverrides: {
        doc: 'Rates for agents working in a vault, counted per agent and vault: name=requestsPerMinute pairs (e.g. prod=120,dev=600).',
        format: overrideListFormat('vaults'),
        default: '',
      },
      ServiceOverrides: {
        doc: 'Rates for calls to a service, per agent: service=requestsPerMinute or vault/service=requestsPerMinute pairs (e.g. prod/github=30,stripe=5).',
        format: overrideListFormat('services'),
        default: '',
      },
    },
    CircuitBreaker: {
      FailureThreshold: {
        doc: "Failures before an upstream's circuit opens.",
        format: 'positive-int',
        default: 5,
      },
      WindowSeconds: {
        doc: 'Rolling window in which failures are counted.',
        format: 'positive-int',
        default: 60,
      },
      ResetTimeoutSeconds: {
        doc: 'How long an open circuit waits before letting one probe through (half-open).',
        format: 'positive-int',
        default: 30,
      },
      ErrorPercentage: {
        doc: 'Also open when this percentage of requests in the window failed (0: off).',
        format: 'non-negative-int',
        default: 0,
      },
      Scope: {
        doc: 'VaultOrigin: one circuit per vault and upstream origin (tenants kept apart); Origin: one per origin, shared by every vault.',
        format: enumFormat(['VaultOrigin', 'Origin']),
        default: 'VaultOrigin',
      },
    },
  },
  Security: {
    MasterPassword: {
      doc: 'Password from which the key wrapping the data key is derived (scrypt). Empty: a random key in <DataDirectory>/master.key.',
      format: 'text',
      default: '',
      sensitive: true,
    },
    MasterPasswordFile: {
      doc: 'File holding the master password (first line), instead of Security.MasterPassword.',
      format: 'text',
      default: '',
    },
    Admin: {
      BootstrapToken: {
        doc: 'Owner admin token created on an empty database instead of a random one (`vec_adm_…`, for automated deployments).',
        format: 'text',
        default: '',
        sensitive: true,
      },
    },
    AgentAuth: {
      Provider: {
        doc: 'How agents authenticate.',
        format: enumFormat(['SelfSigned', 'Jwt']),
        default: 'SelfSigned',
      },
      Jwt: {
        Issuer: { doc: 'Expected JWT issuer (`iss`).', format: 'text', default: '' },
        Audience: { doc: 'Expected JWT audience (`aud`).', format: 'text', default: '' },
        SecretKey: {
          doc: 'HS256 signing key for agent JWTs.',
          format: 'text',
          default: '',
          sensitive: true,
        },
        JwksUrl: {
          doc: 'JWKS URL for agent JWTs signed with asymmetric keys (instead of SecretKey).',
          format: 'http-url-or-empty',
          default: '',
        },
        VaultClaim: {
          doc: 'JWT claim naming the vault the agent works in.',
          format: 'text',
          default: 'vault',
        },
      },
    },
  },
  Policy: {
    Enabled: {
      doc: 'Enable the policy engine (false allows every request).',
      format: 'strict-boolean',
      default: true,
    },
    DefaultProvider: {
      doc: 'Policy provider.',
      format: enumFormat(['Internal', 'Opa']),
      default: 'Internal',
    },
    MaxBodyBytes: {
      doc: 'Bodies up to this size are read as JSON for request.body.* rules; a rule that reads a larger one refuses it.',
      format: 'non-negative-int',
      default: 65536,
    },
    Providers: {
      Internal: {
        Directory: {
          doc: 'Directory of JSON policy files.',
          format: 'text',
          default: './policies',
        },
      },
      Opa: {
        BaseUrl: {
          doc: 'OPA server URL.',
          format: 'http-url-or-empty',
          default: 'http://localhost:8181',
        },
        Path: { doc: 'OPA data path of the decision.', format: 'text', default: 'vectra/authz' },
        TimeoutMilliseconds: {
          doc: 'Time OPA has to decide.',
          format: 'positive-int',
          default: 2000,
        },
        FailOpen: {
          doc: 'Allow requests when OPA cannot decide (logged on every use). Default: refuse (fail closed).',
          format: 'strict-boolean',
          default: false,
        },
        UnreadableBody: {
          doc: 'Refuse (VEC_POLICY_BODY_UNREADABLE) a body over MaxBodyBytes or not JSON without asking OPA, or AskOpa (see input.request.bodyUnreadable).',
          format: enumFormat(['Refuse', 'AskOpa']),
          default: 'Refuse',
        },
      },
    },
  },
  Semantic: {
    Enabled: { doc: 'Enable semantic risk analysis.', format: 'strict-boolean', default: false },
    DefaultProvider: {
      doc: 'Semantic provider.',
      format: enumFormat(['Internal', 'OpenAi']),
      default: 'Internal',
    },
    Providers: {
      OpenAi: {
        ApiKey: { doc: 'OpenAI API key.', format: 'text', default: '', sensitive: true },
        Model: {
          doc: 'Chat model used for risk analysis.',
          format: 'text',
          default: 'gpt-4o-mini',
        },
        BaseUrl: {
          doc: 'OpenAI-compatible API base URL.',
          format: 'http-url-or-empty',
          default: 'https://api.openai.com/v1',
        },
        TimeoutMilliseconds: {
          doc: 'Time the model has to answer before the Internal score is used.',
          format: 'positive-int',
          default: 5000,
        },
      },
    },
  },
  HumanInTheLoop: {
    Enabled: {
      doc: "Hold risky requests for a human's approval.",
      format: 'strict-boolean',
      default: true,
    },
    Threshold: {
      doc: 'Risk score (0..1) at or above which a request needs approval.',
      format: 'ratio',
      default: 0.8,
    },
    TimeoutSeconds: {
      doc: 'How long an approval request stays open.',
      format: 'positive-int',
      default: 3600,
    },
    NotificationWebhookUrl: {
      doc: 'Webhook called when an approval is requested (empty: none).',
      format: 'http-url-or-empty',
      default: '',
      sensitive: true,
    },
  },
  Observability: {
    Logging: {
      DefaultLogLevel: {
        doc: 'Log level.',
        format: enumFormat(LOG_LEVELS),
        default: 'Information',
      },
      File: {
        Enabled: {
          doc: 'Write JSON log lines to a daily rotating file.',
          format: 'strict-boolean',
          default: true,
        },
        Directory: {
          doc: 'Directory of the rotating log files.',
          format: 'text',
          default: './logs',
        },
        MaxFiles: { doc: 'Days of log files kept.', format: 'positive-int', default: 14 },
        MaxSizeMegabytes: {
          doc: 'Size at which the current file is rotated early.',
          format: 'positive-int',
          default: 100,
        },
      },
      Seq: {
        Enabled: { doc: 'Send log events to Seq.', format: 'strict-boolean', default: false },
        ServerUrl: {
          doc: 'Seq server URL.',
          format: 'http-url-or-empty',
          default: 'http://localhost:5341',
        },
        ApiKey: { doc: 'Seq API key (empty: none).', format: 'text', default: '', sensitive: true },
      },
    },
  },
  SecretManagement: {
    DefaultProvider: {
      doc: 'Where credential values come from.',
      format: enumFormat(['Internal', 'Environment', 'AzureKeyVault']),
      default: 'Internal',
    },
    Providers: {
      Environment: {
        Prefix: {
          doc: 'Environment provider: credential KEY of vault V is read from <Prefix><V>__<KEY> (upper-cased; - and . become _).',
          format: 'text',
          default: 'VECTRA_SECRET_',
        },
      },
      AzureKeyVault: {
        VaultUri: { doc: 'Azure Key Vault URI.', format: 'http-url-or-empty', default: '' },
        TenantId: {
          doc: 'Microsoft Entra tenant of the service principal (empty: DefaultAzureCredential).',
          format: 'text',
          default: '',
        },
        ClientId: { doc: 'Service principal client id.', format: 'text', default: '' },
        ClientSecret: {
          doc: 'Service principal client secret.',
          format: 'text',
          default: '',
          sensitive: true,
        },
      },
    },
  },
} as const satisfies SchemaSection;

/** The frozen, validated configuration every component receives a slice of, read off the schema. */
export type VectraConfig = ConfigOf<typeof schema>;

export type LoggingConfig = VectraConfig['Observability']['Logging'];
export type StorageConfig = VectraConfig['System']['Storage'];
export type DatabaseConfig = StorageConfig['Database'];
export type CacheConfig = StorageConfig['Cache'];
export type ServerConfig = VectraConfig['System']['Server'];
export type SecurityConfig = VectraConfig['Security'];
export type ProxyConfig = VectraConfig['System']['Proxy'];
export type AuditConfig = VectraConfig['System']['Audit'];
export type PolicyConfig = VectraConfig['Policy'];
export type SemanticConfig = VectraConfig['Semantic'];
export type RateLimitConfig = VectraConfig['System']['RateLimit'];
export type CircuitBreakerConfig = VectraConfig['System']['CircuitBreaker'];
export type SecretManagementConfig = VectraConfig['SecretManagement'];
