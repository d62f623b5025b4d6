package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// defaultInPlace is InPlaceActivities' default (the package's tests of the work-item queue
// set it off).
var defaultInPlace = 256

// defaultInPlaceWait is InPlaceWait's default.
const defaultInPlaceWait = 100 * time.Millisecond

// Config is everything a worker needs; zero fields take the defaults below.
type Config struct {
	AMQPURL    string // default amqp://guest:guest@127.0.0.1:5672/
	MongoURI   string // default mongodb://127.0.0.1:27017
	Hub        string // default "warren"
	Partitions int    // default 16; must match the hub's recorded count
	// WorkerID identifies this process in the heartbeat set; default host-pid-random.
	WorkerID string
	// ActivityConcurrency is how many activities run at once (and the work-item prefetch).
	ActivityConcurrency int // default 16
	// InPlaceActivities is how many activities the worker may run in place at once: work
	// items of its own episodes that it runs itself instead of sending them through the
	// work-item queue (docs/design.md section 12), beside the ActivityConcurrency it takes
	// from the queue. Default 256; negative: none.
	InPlaceActivities int
	// InPlaceWait is how long a batch waits for each round of the activities its episodes
	// run in place before committing them, three waits in all (foldWaits): the results that
	// come within it are folded into the same episode (fold.go), one commit where there were
	// several. Default 100ms; negative: none is waited for (every activity run in place
	// reports in an episode of its own).
	InPlaceWait time.Duration
	// WorkItemDeliveryLimit is the hub's delivery limit of work items (the broker's
	// x-delivery-limit): a work item delivered that often is renewed (a fresh copy is
	// published and the delivery acked) instead of run, before the broker would dead-letter it.
	WorkItemDeliveryLimit int // default queues.DefaultDeliveryLimit
	// WorkItemDeliveryBudget is how many deliveries a work item may have in all, its renewed
	// copies' included: on the last one the worker fails the task (DeliveryLimitExceeded)
	// instead of running it once more.
	WorkItemDeliveryBudget int // default queues.DefaultDeliveryBudget
	// ControlPrefetch bounds unacked control messages per owned partition.
	ControlPrefetch int // default 256
	// MaxMessageBytes is the largest message body the worker decodes; a larger control
	// message or work item is dead-lettered unread, and an activity result that would be
	// larger fails its task (ResultTooLarge). What a worker holds at once is still up to
	// its prefetch of bodies as large as the broker takes (max_message_size).
	MaxMessageBytes int // default DefaultMaxMessageBytes (16 MiB)
	// PayloadInlineMax is the largest input or output a message carries inline; a larger
	// one is kept in the store and the message refers to it (default
	// history.DefaultPayloadInlineMax, 256 KiB).
	PayloadInlineMax  int
	HeartbeatInterval time.Duration // default 1s
	// DeadAfter is how old a heartbeat may be before its worker counts as gone.
	DeadAfter time.Duration // default 5s
	// DrainTimeout bounds how long Run waits for in-flight work after its context ends.
	DrainTimeout time.Duration // default 30s
	// CacheSize is how many instances' histories are kept in memory.
	CacheSize int // default 10000
	// OpTimeout bounds each round of store and broker calls: one batch of episodes, one
	// heartbeat, one timer sweep, the sending of one activity result. A server that accepts
	// connections but never answers fails the round instead of hanging the worker.
	OpTimeout time.Duration // default 30s
	// TimerGrace is how long past its due time a durable timer of a cached instance may be
	// missing before the worker sends it again itself.
	TimerGrace time.Duration // default 30s
	// DocLag is how long a worker may hold back the instance document of a running
	// instance: documents are written in batches, off the critical path, and one that
	// starts and ends within DocLag is written once. An ended execution's document is
	// written at the next flush (every DocLag/10).
	DocLag time.Duration // default 1s
	// ActivityCheck is how often a running activity's instance is looked up: once its
	// execution has ended (terminated, say) the activity's context is cancelled. An
	// activity shorter than this costs no lookup.
	ActivityCheck time.Duration // default 5s
	// Retention, when set, purges ended instances (Completed, Failed, Terminated) created
	// more than this long ago, with their histories: every RetentionInterval the owner of
	// partition 0 purges them in small batches, resting nine times as long as each took and
	// while it has control messages waiting. 0 keeps everything.
	Retention         time.Duration // default 0: off
	RetentionInterval time.Duration // default 1m

	Logger *slog.Logger
	// Now is the worker's clock (default time.Now); the simulation passes a virtual one.
	Now func() time.Time
	// Tracer records activity, timer, event and orchestration spans; nil disables tracing.
	Tracer trace.Tracer
}

func (c Config) withDefaults() Config {
	if c.AMQPURL == "" {
		c.AMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	if c.MongoURI == "" {
		c.MongoURI = "mongodb://127.0.0.1:27017"
	}
	if c.Hub == "" {
		c.Hub = "warren"
	}
	if c.Partitions == 0 {
		c.Partitions = 16
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(3))
	}
	if c.InPlaceActivities == 0 {
		c.InPlaceActivities = defaultInPlace
	}
	if c.InPlaceWait == 0 {
		c.InPlaceWait = defaultInPlaceWait
	}
	if c.ActivityConcurrency == 0 {
		c.ActivityConcurrency = 16
	}
	if c.WorkItemDeliveryLimit == 0 {
		c.WorkItemDeliveryLimit = queues.DefaultDeliveryLimit
	}
	if c.WorkItemDeliveryBudget == 0 {
		c.WorkItemDeliveryBudget = queues.DefaultDeliveryBudget
	}
	if c.ControlPrefetch == 0 {
		c.ControlPrefetch = 256
	}
	if c.PayloadInlineMax <= 0 {
		c.PayloadInlineMax = history.DefaultPayloadInlineMax
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = 5 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 30 * time.Second
	}
	if c.TimerGrace == 0 {
		c.TimerGrace = 30 * time.Second
	}
	if c.DocLag == 0 {
		c.DocLag = time.Second
	}
	if c.ActivityCheck == 0 {
		c.ActivityCheck = 5 * time.Second
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions must be between 1 and 1024, got %d", c.Partitions))
	}
	if c.ActivityConcurrency < 1 {
		errs = append(errs, fmt.Errorf("activity concurrency must be at least 1, got %d", c.ActivityConcurrency))
	}
	if c.WorkItemDeliveryLimit < 1 || c.WorkItemDeliveryBudget < 1 {
		errs = append(errs, fmt.Errorf("work-item delivery limit (%d) and budget (%d) must be at least 1", c.WorkItemDeliveryLimit, c.WorkItemDeliveryBudget))
	}
	if c.MaxMessageBytes < 1 {
		errs = append(errs, fmt.Errorf("max message bytes must be at least 1, got %d", c.MaxMessageBytes))
	}
	if c.Retention < 0 || c.RetentionInterval < 0 {
		errs = append(errs, fmt.Errorf("retention (%s) and its interval (%s) must not be negative; a retention of 0 keeps every instance", c.Retention, c.RetentionInterval))
	}
	if c.DeadAfter <= c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("dead-after (%s) must be longer than the heartbeat interval (%s)", c.DeadAfter, c.HeartbeatInterval))
	}
	return errors.Join(errs...)
}
