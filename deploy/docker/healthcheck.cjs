// The image's HEALTHCHECK: /_berth/healthz on the address the gateway listens on (a wildcard one through loopback).
const { get } = require('node:http');

const listen = process.env.BERTH_LISTEN_HTTP || '0.0.0.0:8000';
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
const port = Number(listen.slice(colon + 1));
const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
get({ host: target, port, path: '/_berth/healthz', timeout: 4000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1))
  .on('timeout', () => process.exit(1))
  .on('error', () => process.exit(1));
