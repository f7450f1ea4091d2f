// Loaded by `agent-vault run` into Node.js programs (NODE_OPTIONS=--require).
// Node.js 22.21+ and 24+ send fetch() through HTTPS_PROXY themselves when
// NODE_USE_ENV_PROXY=1, which run also sets. Older releases (Node.js 20)
// ignore the proxy variables in fetch(); for them this replaces fetch's
// global dispatcher with one whose connections are CONNECT tunnels through
// the proxy named by HTTPS_PROXY / HTTP_PROXY, honouring NO_PROXY. The
// proxy's CA comes from NODE_EXTRA_CA_CERTS, which Node reads at start-up.
'use strict';
(function () {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major >= 24 || (major === 22 && minor >= 21) || major === 23) {
    return; // NODE_USE_ENV_PROXY does it
  }
  if (typeof fetch !== 'function') {
    return;
  }
  const http = require('http');
  const net = require('net');
  const tls = require('tls');
  const env = process.env;
  const proxyFor = (protocol) => {
    const raw = protocol === 'https:'
      ? env.https_proxy || env.HTTPS_PROXY
      : env.http_proxy || env.HTTP_PROXY;
    if (!raw) return null;
    try { return new URL(raw); } catch { return null; }
  };
  const noProxy = (env.no_proxy || env.NO_PROXY || '').split(/[\s,]+/).filter(Boolean).map((e) => e.toLowerCase());
  const bypass = (host, port) => {
    host = host.toLowerCase().replace(/^\[|\]$/g, '');
    return noProxy.some((e) => {
      if (e === '*') return true;
      let ehost = e;
      let eport = '';
      const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(e);
      if (m) { ehost = m[1].replace(/^\[|\]$/g, ''); eport = m[2]; }
      if (eport && eport !== String(port)) return false;
      ehost = ehost.replace(/^\*?\./, '.');
      return ehost.startsWith('.') ? host.endsWith(ehost) || host === ehost.slice(1) : host === ehost;
    });
  };
  // fetch loads undici, which installs its default Agent as the global
  // dispatcher; its class is the one to build ours from.
  const key = Symbol.for('undici.globalDispatcher.1');
  fetch('data:,').catch(() => {});
  const current = globalThis[key];
  if (!current || typeof current.constructor !== 'function') {
    return;
  }
  const Agent = current.constructor;
  const defaultPort = (protocol) => (protocol === 'https:' ? 443 : 80);
  const connect = (opts, callback) => {
    const port = Number(opts.port) || defaultPort(opts.protocol);
    const host = opts.hostname;
    const servername = opts.servername || (net.isIP(host.replace(/^\[|\]$/g, '')) ? undefined : host);
    const secure = (socket) => {
      if (opts.protocol !== 'https:') return callback(null, socket);
      const s = tls.connect({ socket, host: host.replace(/^\[|\]$/g, ''), servername, ALPNProtocols: ['http/1.1'] });
      s.once('secureConnect', () => callback(null, s));
      s.once('error', (err) => callback(err, null));
    };
    const proxy = proxyFor(opts.protocol);
    if (!proxy || bypass(host, port)) {
      const s = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
      s.once('connect', () => secure(s));
      s.once('error', (err) => callback(err, null));
      return;
    }
    const headers = { host: `${host}:${port}` };
    if (proxy.username) {
      const user = decodeURIComponent(proxy.username);
      const pass = decodeURIComponent(proxy.password);
      headers['proxy-authorization'] = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
    }
    const req = http.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port) || 80,
      method: 'CONNECT',
      path: `${host}:${port}`,
      headers,
      agent: false,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        const err = new Error(`the proxy refused CONNECT ${host}:${port} with status ${res.statusCode}`);
        err.code = 'UND_ERR_PROXY_CONNECT';
        return callback(err, null);
      }
      secure(socket);
    });
    req.once('error', (err) => callback(err, null));
    req.end();
  };
  globalThis[key] = new Agent({ connect });
})();
