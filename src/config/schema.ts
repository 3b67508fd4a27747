/**
 * The configuration schema: every key, its default, its format and what it means. The layout
 * follows the seed's appsettings.json (`System`, `Security`, `Policy`, `Semantic`,
 * `HumanInTheLoop`, `Observability`, `SecretManagement`); `config/appsettings.json` holds the
 * same defaults (test/unit/config.test.ts keeps the two in step). The `System` section is
 * ./system-schema.ts, the value formats ./formats.ts.
 */
import { enumFormat, intChoiceFormat, type ConfigOf, type SchemaSection } from './formats';
import { systemSchema } from './system-schema';

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

export const schema = {
  System: systemSchema,
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
    HoldSeconds: {
      doc: "How long an agent's request is held open waiting for a decision before it is answered VEC_APPROVAL_PENDING (0: answer at once).",
      format: 'non-negative-int',
      default: 25,
    },
    PendingStatus: {
      doc: 'HTTP status of VEC_APPROVAL_PENDING: 403, 409, 429 or 503 (for clients that retry on Retry-After).',
      format: intChoiceFormat([403, 409, 429, 503]),
      default: 403,
    },
    BodyPreviewBytes: {
      doc: "Bytes of a held request's body kept in its approval as a preview (JSON pretty-printed, secret-looking keys redacted).",
      format: 'non-negative-int',
      default: 4096,
    },
    MaxPendingPerAgent: {
      doc: 'Pending approvals one agent may have; more are refused with VEC_APPROVAL_QUEUE_FULL.',
      format: 'positive-int',
      default: 20,
    },
    MaxHeldRequests: {
      doc: 'Requests held open at once on this replica; beyond it a new one is answered VEC_APPROVAL_PENDING at once.',
      format: 'non-negative-int',
      default: 1000,
    },
    PollSeconds: {
      doc: "How often a replica holding requests reads their approvals from the database (the cache's pub/sub releases them sooner).",
      format: 'positive-int',
      default: 2,
    },
    NotificationWebhookUrl: {
      doc: 'Webhook told of every new approval and every decision (empty: none); it goes through the SSRF guard.',
      format: 'http-url-or-empty',
      default: '',
      sensitive: true,
    },
    WebhookSecret: {
      doc: "Key of the webhook's HMAC-SHA256 signature (X-Vectra-Signature over X-Vectra-Timestamp and the body); empty: unsigned.",
      format: 'text',
      default: '',
      sensitive: true,
    },
    WebhookFormat: {
      doc: 'Webhook body: generic (the approval event as JSON) or slack (incoming-webhook blocks).',
      format: enumFormat(['generic', 'slack'] as const),
      default: 'generic',
    },
    PublicUrl: {
      doc: 'Base URL people reach the API at, for links to approvals in webhooks (empty: no link).',
      format: 'http-url-or-empty',
      default: '',
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
    Metrics: {
      Enabled: {
        doc: 'Record Prometheus metrics of proxied requests and serve them at /metrics (false: /metrics answers 404 and the request path records nothing). See docs/observability.md.',
        format: 'strict-boolean',
        default: true,
      },
      LabelVault: {
        doc: 'Label proxied-request metrics with the vault (false: the `vault` label is `*`, one series for all vaults).',
        format: 'strict-boolean',
        default: true,
      },
      LabelService: {
        doc: 'Label proxied-request metrics with the service (false: the `service` label is `*`, one series for all services).',
        format: 'strict-boolean',
        default: true,
      },
    },
    Tracing: {
      Enabled: {
        doc: 'Trace proxied requests with OpenTelemetry: a span per request, its pipeline stages and its upstream call, exported over OTLP/HTTP; the W3C `traceparent` is read from the agent and sent upstream. See docs/observability.md.',
        format: 'strict-boolean',
        default: false,
      },
      OtlpEndpoint: {
        doc: 'OTLP/HTTP traces endpoint the spans are sent to (JSON), such as an OpenTelemetry Collector.',
        format: 'http-url-or-empty',
        default: 'http://localhost:4318/v1/traces',
      },
      ServiceName: {
        doc: 'The `service.name` resource attribute of the exported spans.',
        format: 'text',
        default: 'vectra',
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
export type MetricsConfig = VectraConfig['Observability']['Metrics'];
export type TracingConfig = VectraConfig['Observability']['Tracing'];
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
