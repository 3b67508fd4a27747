/**
 * The `System` section of the configuration schema: the listeners, the forward proxy, storage,
 * audit, rate limits and circuit breakers.
 */
import { enumFormat, overrideListFormat, type SchemaSection } from './formats';

export const systemSchema = {
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
  Ui: {
    Enabled: {
      doc: 'Serve the web UI at /ui on the API port (sign-in with an admin token).',
      format: 'strict-boolean',
      default: true,
    },
    SessionHours: {
      doc: 'A web UI session ends this many hours after sign-in, however active.',
      format: 'positive-int',
      default: 8,
    },
    IdleMinutes: {
      doc: 'A web UI session ends after this many minutes without a request.',
      format: 'positive-int',
      default: 30,
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
} as const satisfies SchemaSection;
