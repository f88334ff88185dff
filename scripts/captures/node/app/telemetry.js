// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0
//
// OpenTelemetry set-up of the capture services, loaded before the application
// with `node --require ./telemetry.js services.js ...`, as the OpenTelemetry
// JS documentation tells users to do (NODE_PATH names the package set:
// ../sdk3/node_modules or ../sdk2/node_modules). Everything a user would set through the
// environment comes from the standard OTEL_* variables; two settings have no
// variable in OpenTelemetry JS and come from the capture script instead:
//
//   CAPTURE_HISTOGRAM        explicit (default) | exponential: exponential
//                            histograms are chosen with the OTLP metric
//                            exporter's aggregationPreference, for histogram
//                            instruments only.
//   CAPTURE_SPAN_PROCESSORS  1 (default) | 2: with 2, two batch span
//                            processors, each with its own OTLP exporter,
//                            export every span twice with the same IDs, as
//                            tracing initialised twice in one process does.
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const {
  AggregationType,
  InstrumentType,
  PeriodicExportingMetricReader,
} = require('@opentelemetry/sdk-metrics');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace');

function envNumber(name, fallback) {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

// Only what differs from the environment-driven default is set here, so the
// default variants run exactly what NodeSDK builds from OTEL_* variables.
function sdkConfig() {
  const config = { instrumentations: [getNodeAutoInstrumentations()] };

  const histogram = process.env.CAPTURE_HISTOGRAM || 'explicit';
  if (histogram === 'exponential') {
    const interval = envNumber('OTEL_METRIC_EXPORT_INTERVAL', 60000);
    const exporter = new OTLPMetricExporter({
      aggregationPreference: (type) =>
        type === InstrumentType.HISTOGRAM
          ? { type: AggregationType.EXPONENTIAL_HISTOGRAM }
          : { type: AggregationType.DEFAULT },
    });
    config.metricReaders = [
      new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, envNumber('OTEL_METRIC_EXPORT_TIMEOUT', 30000)),
      }),
    ];
  } else if (histogram !== 'explicit') {
    throw new Error(`CAPTURE_HISTOGRAM must be explicit or exponential, not ${histogram}`);
  }

  const processors = envNumber('CAPTURE_SPAN_PROCESSORS', 1);
  if (processors > 1) {
    // A processor built in code does not read OTEL_BSP_*: pass the delay on.
    const scheduledDelayMillis = envNumber('OTEL_BSP_SCHEDULE_DELAY', 5000);
    config.spanProcessors = [];
    for (let i = 0; i < processors; i++) {
      config.spanProcessors.push(
        new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis }),
      );
    }
  }
  return config;
}

const sdk = new NodeSDK(sdkConfig());
sdk.start();

// On SIGTERM (the application stops its server on the same signal, and the
// load has ended by then) the SDK exports the spans still queued and a last
// metric collection before the process exits.
process.once('SIGTERM', () => {
  sdk
    .shutdown()
    .catch((err) => console.error('telemetry: shutdown:', err))
    .finally(() => process.exit(0));
});
