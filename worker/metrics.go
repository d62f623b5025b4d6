package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/warrenhq/warren/history"
)

// metrics are the worker's Prometheus metrics, in a registry of its own (several workers
// may share a process: the tests, the simulation), with the Go runtime's and the
// process's. No label carries an instance id: the labels are step, activity name, outcome,
// reason, status, queue kind and operation, all of bounded cardinality.
type metrics struct {
	registry     *prometheus.Registry
	episodes     prometheus.Counter
	steps        *prometheus.HistogramVec // step
	batch        [5]prometheus.Observer   // the steps' observers, in batchSteps order
	ended        *prometheus.CounterVec   // status
	activities   *prometheus.CounterVec   // activity, outcome
	activityTime *prometheus.HistogramVec // activity, outcome
	retries      *prometheus.CounterVec   // activity
	deadLetters  *prometheus.CounterVec   // reason
	redeliveries *prometheus.CounterVec   // queue
	cacheHits    prometheus.Counter
	cacheMisses  prometheus.Counter
	storeErrors  *prometheus.CounterVec // op
	brokerErrors *prometheus.CounterVec // op
	timersResent prometheus.Counter
	purged       prometheus.Counter
	deferred     *prometheus.CounterVec // queue
	inPlace      prometheus.Counter
	folded       prometheus.Counter
}

// The steps of a batch (docs/design.md section 4.3), the label values of the step histogram.
const (
	stepPlan    = "plan"
	stepCommit  = "commit"
	stepPublish = "publish"
	stepUpdate  = "update"
	stepAck     = "ack"
)

var batchSteps = [5]string{stepPlan, stepCommit, stepPublish, stepUpdate, stepAck}

// Activity outcomes: run to a result, run to a failure, or failed without running because
// the work item reached its delivery limit.
const (
	outcomeCompleted     = "completed"
	outcomeFailed        = "failed"
	outcomeDeliveryLimit = "delivery_limit"
)

// Dead-letter reasons, the label values of warren_worker_dead_letters_total; the message
// itself carries the full reason in its x-warren-reason header.
const (
	deadUndecodable = "undecodable"
	deadInvalidID   = "invalid_instance"
	deadConflict    = "instance_exists"
	deadRefused     = "start_refused"
	deadOrphan      = "start_missing"
	deadPanic       = "panic"
	deadStore       = "store_refused"
	// deadNewerVersion: written by a newer Warren while no live worker reads it.
	deadNewerVersion = "newer_version"
	deadRewind       = "rewind_refused"
	// deadPayload: the message refers to a payload the store no longer has.
	deadPayload = "payload_missing"
)

// latencyBuckets suit store and broker round trips (a millisecond to tens of seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(w *Worker) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		episodes: counter("warren_worker_episodes_total", "Orchestration episodes committed."),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warren_worker_episode_step_duration_seconds",
			Help:    "Time each step of the episode protocol takes for one batch of control messages: plan, commit, publish, update, ack.",
			Buckets: latencyBuckets,
		}, []string{"step"}),
		ended: counterVec("warren_worker_orchestrations_ended_total", "Orchestration executions that ended, by status (Completed, Failed, Terminated, ContinuedAsNew).", "status"),
		activities: counterVec("warren_worker_activities_total",
			"Activity attempts, by activity name and outcome (completed, failed, delivery_limit).", "activity", "outcome"),
		activityTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warren_worker_activity_duration_seconds",
			Help:    "Time activity attempts ran, by activity name and outcome (completed, failed).",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"activity", "outcome"}),
		retries: counterVec("warren_worker_activity_retries_total",
			"Activity attempts after the first (the orchestration's retry policy tried again).", "activity"),
		deadLetters: counterVec("warren_worker_dead_letters_total",
			"Messages this worker sent to the dead-letter queue, by reason.", "reason"),
		redeliveries: counterVec("warren_worker_redeliveries_total",
			"Messages the broker handed this worker again (redelivered), by queue kind (control, workitems).", "queue"),
		cacheHits:    counter("warren_worker_cache_hits_total", "Instance states served from the worker's cache."),
		cacheMisses:  counter("warren_worker_cache_misses_total", "Instance states read from the store because the cache did not hold them."),
		storeErrors:  counterVec("warren_worker_store_errors_total", "Store calls that failed, by operation.", "op"),
		brokerErrors: counterVec("warren_worker_broker_errors_total", "Broker calls that failed, by operation.", "op"),
		timersResent: counter("warren_worker_timers_resent_total", "Overdue durable timers this worker sent again."),
		purged:       counter("warren_worker_instances_purged_total", "Ended instances purged because they were older than the retention (WARREN_RETENTION)."),
		deferred: counterVec("warren_worker_deferred_to_newer_total",
			"Messages handed on to a newer worker because a newer version of Warren wrote them or their instance's history, by queue kind (control, workitems).", "queue"),
		inPlace: counter("warren_worker_activities_in_place_total",
			"Work items this worker ran in place, without sending them through the work-item queue (docs/design.md section 12)."),
		folded: counter("warren_worker_activities_folded_total",
			"Activity results this worker applied in the episode that scheduled them, one commit for both (docs/design.md section 12)."),
	}
	for i, step := range batchSteps {
		m.batch[i] = m.steps.WithLabelValues(step)
	}
	m.registry.MustRegister(m.episodes, m.steps, m.ended, m.activities, m.activityTime, m.retries,
		m.deadLetters, m.redeliveries, m.cacheHits, m.cacheMisses, m.storeErrors, m.brokerErrors,
		m.timersResent, m.purged, m.deferred, m.inPlace, m.folded,
		gauge("warren_worker_schema_version", "The newest event schema this worker reads (history.SchemaVersion of its build).",
			func() float64 { return float64(w.schemaVersion) }),
		gauge("warren_worker_newer_worker_live", "1 while another live worker reads a newer event schema (a rolling deploy is under way), else 0.",
			func() float64 { return b2f(w.newerLive.Load()) }),
		gauge("warren_worker_partitions_owned", "Control-queue partitions this worker consumes.",
			func() float64 { return float64(len(w.OwnedPartitions())) }),
		gauge("warren_worker_inbox_messages", "Control messages received and waiting for the episode loop.",
			func() float64 { return float64(w.inbox.len()) }),
		gauge("warren_worker_activities_in_flight", "Activities running now.",
			func() float64 { return float64(w.inFlight.Load()) }),
		gauge("warren_worker_heartbeat_age_seconds", "Time since this worker last wrote its heartbeat (0 before the first).",
			func() float64 { return w.heartbeatAge().Seconds() }),
		gauge("warren_worker_documents_owed", "Instance documents waiting to be written to the store.",
			func() float64 { return float64(w.docs.len()) }),
		newDepthCollector(w),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// batchTook records the time of each step of one batch.
func (m *metrics) batchTook(plan, commit, publish, update, ack time.Duration) {
	for i, d := range [5]time.Duration{plan, commit, publish, update, ack} {
		m.batch[i].Observe(d.Seconds())
	}
}

func (m *metrics) activity(name, outcome string, took time.Duration) {
	m.activities.WithLabelValues(name, outcome).Inc()
	if outcome != outcomeDeliveryLimit {
		m.activityTime.WithLabelValues(name, outcome).Observe(took.Seconds())
	}
}

func (m *metrics) executionEnded(s history.Status) { m.ended.WithLabelValues(string(s)).Inc() }
func (m *metrics) deadLettered(reason string)      { m.deadLetters.WithLabelValues(reason).Inc() }
func (m *metrics) redelivered(queue string)        { m.redeliveries.WithLabelValues(queue).Inc() }
func (m *metrics) storeError(op string)            { m.storeErrors.WithLabelValues(op).Inc() }
func (m *metrics) brokerError(op string)           { m.brokerErrors.WithLabelValues(op).Inc() }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
