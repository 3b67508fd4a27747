'use strict';
/**
 * Loaded into every Node process `vectra run` starts (`NODE_OPTIONS=--require <this file>`), so
 * Node's own HTTP stacks send their traffic through HTTPS_PROXY/HTTP_PROXY, with NO_PROXY
 * honoured, on every Node version (Node 20 ignores NODE_USE_ENV_PROXY):
 *   - global fetch, and undici's request(): the global dispatcher becomes undici's
 *     EnvHttpProxyAgent. Node's bundled undici and the npm package share the dispatcher through
 *     a global symbol; undici is loaded on first use only (it costs ~100 ms at start-up);
 *   - http and https (http.get, https.request, libraries built on them): the global agents
 *     become proxy agents, absolute-form requests for http: and CONNECT tunnels for https:.
 *     A request given its own agent keeps it, as with Node's own env-proxy support.
 * The CA needs nothing here: Node adds NODE_EXTRA_CA_CERTS to its default trust at start-up.
 *
 * Plain CommonJS, no build step: it lives outside src/ so the same file serves ts-node, jest
 * and dist/ (src/isolation/node-preload.ts finds it two folders up from itself, in both trees).
 * `require('undici')` resolves from this file, so from Vectra's install, never the child's cwd.
 * Silent on success; without proxy variables it changes nothing.
 */
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');

/** The lower-case form first, as curl reads them; empty is unset. */
function envVar(name) {
  return process.env[name.toLowerCase()] || process.env[name] || undefined;
}

/** `{ url, host, port, auth }` for a proxy URL (auth: Basic, from its userinfo), or undefined. */
function parseProxy(value) {
  if (!value) return undefined;
  let url;
  try {
    url = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  let auth;
  if (url.username || url.password) {
    const userinfo = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    auth = `Basic ${Buffer.from(userinfo).toString('base64')}`;
  }
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  return { url, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, auth };
}

/**
 * NO_PROXY as curl reads it: `*` for every host; otherwise comma- or space-separated names,
 * each matching itself and its subdomains (a leading `.` or `*.` is ignored), an IP address
 * (IPv6 with or without brackets), optionally with `:port`.
 */
function parseNoProxy(value) {
  const entries = [];
  for (const raw of (value || '').split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return { all: true, entries };
    let port = 0;
    const bracketed = /^\[(.*)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1];
      port = Number(bracketed[2] || 0);
    } else if (net.isIPv6(entry) === false) {
      const withPort = /^(.*):(\d+)$/.exec(entry);
      if (withPort) {
        entry = withPort[1];
        port = Number(withPort[2]);
      }
    }
    entries.push({ host: entry.replace(/^\*?\./, ''), port });
  }
  return { all: false, entries };
}

function bypasses(noProxy, hostname, port) {
  if (noProxy.all) return true;
  const host = String(hostname)
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return noProxy.entries.some(
    (e) => (!e.port || e.port === port) && (host === e.host || host.endsWith(`.${e.host}`)),
  );
}

/** `host:port`, IPv6 in brackets. */
function authority(host, port) {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Connects to the proxy itself: TLS for an https:// proxy. */
function proxyRequestModule(proxy) {
  return proxy.url.protocol === 'https:' ? https : http;
}

/** http: requests sent to the proxy in absolute form (`GET http://host:port/path`). */
class ProxyHttpAgent extends http.Agent {
  constructor(proxy, noProxy) {
    super({ keepAlive: true });
    this.proxy = proxy;
    this.noProxy = noProxy;
  }

  addRequest(req, options) {
    const port = Number(options.port) || 80;
    // A path already in absolute form is a request to a proxy the caller chose.
    if (
      options.socketPath ||
      !req.path.startsWith('/') ||
      bypasses(this.noProxy, options.host, port)
    ) {
      return super.addRequest(req, options);
    }
    const target = `http://${authority(options.host, port)}${req.path}`;
    if (req._header) {
      // Headers given as an array are already serialised: rewrite the request line.
      const auth = this.proxy.auth ? `Proxy-Authorization: ${this.proxy.auth}\r\n` : '';
      req._header = req._header.replace(/^(\S+) \S+ (HTTP\/1\.1\r\n)/, `$1 ${target} $2${auth}`);
    } else {
      req.path = target;
      if (this.proxy.auth) req.setHeader('Proxy-Authorization', this.proxy.auth);
    }
    const viaProxy = {
      ...options,
      host: this.proxy.host,
      port: this.proxy.port,
      servername: net.isIP(this.proxy.host) ? undefined : this.proxy.host,
      proxyTls: this.proxy.url.protocol === 'https:',
    };
    return super.addRequest(req, viaProxy);
  }

  createConnection(options, callback) {
    if (options.proxyTls) return tls.connect(options);
    return super.createConnection(options, callback);
  }
}

/** https: requests through a CONNECT tunnel, with TLS to the origin inside it. */
class ProxyHttpsAgent extends https.Agent {
  constructor(proxy, noProxy) {
    super({ keepAlive: true });
    this.proxy = proxy;
    this.noProxy = noProxy;
  }

  createConnection(options, callback) {
    const port = Number(options.port) || 443;
    if (options.socketPath || bypasses(this.noProxy, options.host, port)) {
      return super.createConnection(options);
    }
    const target = authority(options.host, port);
    const headers = { host: target };
    if (this.proxy.auth) headers['proxy-authorization'] = this.proxy.auth;
    const connect = proxyRequestModule(this.proxy).request({
      host: this.proxy.host,
      port: this.proxy.port,
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
    });
    connect.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        const code = res.headers['x-vectra-error'];
        const err = new Error(
          `the proxy refused the tunnel to ${target}: HTTP ${res.statusCode}${code ? ` ${code}` : ''}`,
        );
        err.code = 'ERR_PROXY_TUNNEL';
        err.statusCode = res.statusCode;
        callback(err);
        return;
      }
      if (head.length > 0) socket.unshift(head);
      // https.Agent's own createConnection: TLS over the tunnel, with its session cache.
      callback(null, super.createConnection({ ...options, socket }));
    });
    connect.once('error', (err) => callback(err));
    connect.end();
    return undefined;
  }
}

/** undici's EnvHttpProxyAgent, from Vectra's own copy of undici. */
function loadEnvHttpProxyAgent() {
  const index = require.resolve('undici');
  const cached = require.cache[index];
  if (cached && !cached.loaded) {
    // This very copy is loading (the child's own `require('undici')` asked for the dispatcher),
    // so its index exports nothing yet; the class's own module is complete, and the index adds
    // the request methods to it before anything dispatches.
    return require(path.join(path.dirname(index), 'lib', 'dispatcher', 'env-http-proxy-agent.js'));
  }
  return require('undici').EnvHttpProxyAgent;
}

/**
 * Makes undici's EnvHttpProxyAgent the global dispatcher when something first asks for it
 * (fetch's first call, or a child's own `require('undici')`), loading undici only then. The
 * properties are the ones undici reads and writes; configurable, so that setGlobalDispatcher
 * (Node's, or the child's own choice) can still replace them.
 */
function installFetchDispatcher() {
  const keys = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')];
  if (keys.some((key) => Object.getOwnPropertyDescriptor(globalThis, key))) return;
  let failed = false;
  const set = (value) => {
    for (const key of keys) {
      Object.defineProperty(globalThis, key, {
        value,
        writable: true,
        enumerable: false,
        configurable: false,
      });
    }
  };
  const get = () => {
    // One key replaced by a setGlobalDispatcher that writes only that one: its choice wins.
    for (const key of keys) {
      const own = Object.getOwnPropertyDescriptor(globalThis, key);
      if (own && 'value' in own && own.value !== undefined) return own.value;
    }
    if (failed) return undefined;
    try {
      const dispatcher = new (loadEnvHttpProxyAgent())();
      set(dispatcher);
      return dispatcher;
    } catch (err) {
      // Undefined: undici installs its default, direct dispatcher.
      failed = true;
      warn(err);
      return undefined;
    }
  };
  for (const key of keys) Object.defineProperty(globalThis, key, { get, set, configurable: true });
}

function install() {
  const httpProxy = parseProxy(envVar('HTTP_PROXY'));
  const httpsProxy = parseProxy(envVar('HTTPS_PROXY')) || httpProxy;
  if (!httpProxy && !httpsProxy) return;
  const noProxy = parseNoProxy(envVar('NO_PROXY'));
  installFetchDispatcher();
  if (httpProxy) http.globalAgent = new ProxyHttpAgent(httpProxy, noProxy);
  if (httpsProxy) https.globalAgent = new ProxyHttpsAgent(httpsProxy, noProxy);
}

function warn(err) {
  process.emitWarning(`vectra: Node's HTTP traffic may bypass the proxy: ${err.message}`);
}

try {
  install();
} catch (err) {
  warn(err);
}
