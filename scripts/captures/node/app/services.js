// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0
//
// The two capture services on Node's own `http` module, the same shape as the
// Python (Flask) services of testdata/captures/python-flask-*:
//
//   NODE_PATH=../sdk3/node_modules node --require ./telemetry.js services.js order
//       (ORDER_PORT, PAYMENT_URL)
//   NODE_PATH=../sdk3/node_modules node --require ./telemetry.js services.js payment
//       (PAYMENT_PORT)
//
// order-service   POST /process  400 when order_id or amount is missing;
//                                otherwise sleeps 0-20 ms and calls
//                                payment-service POST /charge with
//                                http.request (so the http instrumentation
//                                makes a CLIENT span and client metrics);
//                                502 when the payment fails.
//                 GET /health
// payment-service POST /charge   sleeps 0-40 ms; 10 % answer 500.
//                 GET /health
//
// No application code touches OpenTelemetry: all telemetry comes from the
// auto-instrumentations that telemetry.js registers.
'use strict';

const http = require('http');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function readJSON(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch {
        resolve({});
      }
    });
    req.on('error', () => resolve({}));
  });
}

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

// charge posts the order to payment-service and resolves to its status code,
// or 0 when no answer came.
function charge(paymentURL, order) {
  return new Promise((resolve) => {
    const body = JSON.stringify(order);
    const req = http.request(
      `${paymentURL}/charge`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('payment timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

function orderService(paymentURL) {
  return async (req, res) => {
    if (req.method === 'GET' && req.url === '/health') return reply(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || req.url !== '/process') return reply(res, 404, { error: 'not found' });
    const order = await readJSON(req);
    if (order.order_id == null || order.amount == null) {
      return reply(res, 400, { error: 'order_id and amount are required' });
    }
    await sleep(Math.random() * 20);
    const status = await charge(paymentURL, order);
    if (status < 200 || status >= 300) return reply(res, 502, { error: 'payment failed' });
    return reply(res, 200, { order_id: order.order_id, status: 'processed' });
  };
}

function paymentService() {
  return async (req, res) => {
    if (req.method === 'GET' && req.url === '/health') return reply(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || req.url !== '/charge') return reply(res, 404, { error: 'not found' });
    const order = await readJSON(req);
    await sleep(Math.random() * 40);
    if (Math.random() < 0.1) return reply(res, 500, { error: 'card declined' });
    return reply(res, 200, { order_id: order.order_id, charged: order.amount });
  };
}

function main() {
  const which = process.argv[2];
  let handler;
  let port;
  if (which === 'order') {
    handler = orderService(process.env.PAYMENT_URL || 'http://127.0.0.1:8081');
    port = Number(process.env.ORDER_PORT || 8080);
  } else if (which === 'payment') {
    handler = paymentService();
    port = Number(process.env.PAYMENT_PORT || 8081);
  } else {
    console.error('usage: node --require ./telemetry.js services.js order|payment');
    process.exit(2);
  }
  const server = http.createServer((req, res) => {
    handler(req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) reply(res, 500, { error: 'internal' });
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`${which}-service listening on 127.0.0.1:${port}`));
  // telemetry.js exits the process once the SDK has flushed.
  process.once('SIGTERM', () => server.close());
}

main();
