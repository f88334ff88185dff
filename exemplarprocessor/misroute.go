// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/ratelimit"
)

// misrouteInterval is the least time between two warnings about one
// service's metrics arriving without its spans: often enough to be seen
// next to the counter, rarely enough not to flood a misrouted gateway's log.
const misrouteInterval = time.Minute

// misrouteCauses names what usually makes an instance receive a service's
// metrics but none of its spans.
const misrouteCauses = "the service's traces reach another collector instance " +
	"(behind the load_balancing exporter, routing_key: service hashes traces and metrics differently in contrib v0.159.0: " +
	"route both signals with routing_key: attributes and routing_attributes: [service.name]); " +
	"or the traces pipeline does not contain this exemplar component ID; " +
	"or the service's trace and metric SDKs send different resource attributes (compare resource_keys on both signals); " +
	"or a tail sampler in front dropped, or still holds, every trace of the service"

// misrouteWarner warns at most once per interval per service.
type misrouteWarner struct {
	limit *ratelimit.Limiter[string]
}

// maxWarnedServices bounds the services remembered; past it the least
// recently seen is forgotten, which at worst warns about it early.
const maxWarnedServices = 4096

func newMisrouteWarner() misrouteWarner {
	return misrouteWarner{limit: ratelimit.New[string](misrouteInterval, maxWarnedServices)}
}

// warn logs that metrics of res's service arrived while the index holds
// none of its spans, unless it did so within misrouteInterval.
func (m misrouteWarner) warn(logger *zap.Logger, now time.Time, res pcommon.Map) {
	service := serviceName(res)
	n, ok := m.limit.Allow(service, 0, now)
	if !ok {
		return
	}
	logger.Warn("Metrics arrive for a service with no spans in this instance",
		zap.String("service.name", service),
		zap.String("likely_causes", misrouteCauses),
		zap.Uint64("data_points", n.Total()),
		zap.Duration("next_warning_after", misrouteInterval))
}
