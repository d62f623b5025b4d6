package dispatcher

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the dispatcher's Prometheus metrics, in a registry of its own (several
// dispatchers may share a process in tests), served at /metrics with the Go runtime's and
// the process's.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec   // route, code
	latency  *prometheus.HistogramVec // route
	starts   prometheus.Counter
	raises   prometheus.Counter
	byKind   *prometheus.CounterVec // kind
	pubFails prometheus.Counter
}

func newMetrics(w *waiters) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warren_dispatcher_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warren_dispatcher_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern (long polls included).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warren_dispatcher_orchestrations_started_total",
			Help: "Orchestration instances started (the start message confirmed by the broker).",
		}),
		raises: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warren_dispatcher_events_raised_total",
			Help: "External events raised.",
		}),
		byKind: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warren_dispatcher_control_messages_published_total",
			Help: "Control messages the broker confirmed, by kind.",
		}, []string{"kind"}),
		pubFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warren_dispatcher_publish_failures_total",
			Help: "Control messages the broker did not confirm.",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.starts, m.raises, m.byKind, m.pubFails,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "warren_dispatcher_waiters",
			Help: "Wait requests waiting for their instance to end.",
		}, func() float64 { return float64(w.count()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "warren_dispatcher_announcements_total",
			Help: "Announcements of ended instances heard from the workers.",
		}, func() float64 { return float64(w.heard.Load()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) started()              { m.starts.Inc() }
func (m *metrics) raised()               { m.raises.Inc() }
func (m *metrics) published(kind string) { m.byKind.WithLabelValues(kind).Inc() }
func (m *metrics) publishFailed()        { m.pubFails.Inc() }

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
