package queues

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/warrenhq/warren/internal/config"
)

// Defaults of Config, in one place.
const (
	DefaultHub         = "warren"
	DefaultPartitions  = 16
	MaxPartitions      = 1024
	DefaultTimerTick   = 10 * time.Millisecond
	DefaultTimerLevels = 18 // with 10 ms ticks one pass of the ladder holds about 43 minutes
	// DefaultDeliveryLimit is the work-item queue's delivery limit (x-delivery-limit). The
	// broker counts every return, a dropped connection's included, so workers renew a work
	// item that nears it and give the task up only after DefaultDeliveryBudget deliveries
	// in all (worker.Config.WorkItemDeliveryBudget).
	DefaultDeliveryLimit = 5
	// DefaultDeliveryBudget is how many deliveries a work item may have in all, across the
	// fresh copies a worker publishes to renew it, before its task fails with
	// DeliveryLimitExceeded: an activity that kills its worker that often is given up.
	DefaultDeliveryBudget = 20
	// DefaultControlDeliveryLimit is the control queues' delivery limit: far above what a
	// healthy message sees (a redelivery per worker crash or partition move), so that only a
	// message that keeps failing reaches the dead-letter queue.
	DefaultControlDeliveryLimit = 100
	DefaultReconnectMax         = 5 * time.Second
	DefaultDialTimeout          = 5 * time.Second
	DefaultOperationTimeout     = 30 * time.Second
)

// Config says which broker and which hub a Conn works with. The zero value of every field
// but URL means its default.
type Config struct {
	// URL is the AMQP URL of the broker; several comma-separated URLs name the nodes of a
	// cluster, tried in turn when (re)connecting.
	URL string
	// Hub prefixes every queue and exchange name (default "warren").
	Hub string
	// Partitions is the number of control queues (default 16, at most 1024). It is fixed per
	// hub: DeclareTopology refuses a hub that exists with another count.
	Partitions int
	// Logger receives one line per event that matters (reconnects, re-armed timers are
	// debug). Default: discard.
	Logger *slog.Logger
	// TimerTick is the unit of the timer ladder: level k holds a message 2^k ticks (default
	// 10 ms, a whole number of milliseconds). Scheduled messages arrive up to a tick late
	// plus the broker's hops.
	TimerTick time.Duration
	// TimerLevels is the number of ladder levels (default 18), one quorum queue each;
	// delays beyond (2^levels - 1) ticks go round the ladder again, re-armed on arrival.
	TimerLevels int
	// DeliveryLimit is how often the broker delivers a work item before it dead-letters it
	// (default 5).
	DeliveryLimit int
	// ControlDeliveryLimit is how often the broker delivers a control-queue message before
	// it dead-letters it to the hub's dead-letter queue (default 100). It is part of the
	// queues' arguments, fixed per hub like Partitions.
	ControlDeliveryLimit int
	// ReconnectMaxInterval caps the backoff between reconnect attempts (default 5 s).
	ReconnectMaxInterval time.Duration
	// ConnectionName is shown in the broker's management UI (default "warren").
	ConnectionName string
	// DialTimeout bounds one connection attempt, TCP connect and AMQP handshake together
	// (default 5 s).
	DialTimeout time.Duration
	// OperationTimeout bounds every other call to the broker whose ctx has no earlier
	// deadline: opening a channel, a declaration, a publish's confirms, a close (default
	// 30 s). A call the broker does not answer in time drops the connection, which then
	// reconnects.
	OperationTimeout time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if strings.TrimSpace(c.URL) == "" {
		return c, errors.New("queues: Config.URL is empty (want e.g. amqp://guest:guest@127.0.0.1:5672/)")
	}
	if c.Hub == "" {
		c.Hub = DefaultHub
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Partitions < 1 || c.Partitions > MaxPartitions {
		return c, fmt.Errorf("queues: Config.Partitions is %d, want 1..%d", c.Partitions, MaxPartitions)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.TimerTick == 0 {
		c.TimerTick = DefaultTimerTick
	}
	if c.TimerTick < time.Millisecond || c.TimerTick%time.Millisecond != 0 {
		return c, fmt.Errorf("queues: Config.TimerTick is %v, want a whole number of milliseconds", c.TimerTick)
	}
	if c.TimerLevels == 0 {
		c.TimerLevels = DefaultTimerLevels
	}
	if c.TimerLevels < 1 || c.TimerLevels > 40 {
		return c, fmt.Errorf("queues: Config.TimerLevels is %d, want 1..40", c.TimerLevels)
	}
	// x-message-ttl is a 32-bit signed number of milliseconds on the broker.
	if top := (int64(1) << (c.TimerLevels - 1)) * c.TimerTick.Milliseconds(); top > 1<<31-1 {
		return c, fmt.Errorf("queues: the top timer level would hold messages %d ms, more than the broker's limit of %d ms; use fewer TimerLevels or a smaller TimerTick", top, int64(1<<31-1))
	}
	if c.DeliveryLimit == 0 {
		c.DeliveryLimit = DefaultDeliveryLimit
	}
	if c.DeliveryLimit < 1 {
		return c, fmt.Errorf("queues: Config.DeliveryLimit is %d, want at least 1", c.DeliveryLimit)
	}
	if c.ControlDeliveryLimit == 0 {
		c.ControlDeliveryLimit = DefaultControlDeliveryLimit
	}
	if c.ControlDeliveryLimit < 1 {
		return c, fmt.Errorf("queues: Config.ControlDeliveryLimit is %d, want at least 1", c.ControlDeliveryLimit)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.OperationTimeout == 0 {
		c.OperationTimeout = DefaultOperationTimeout
	}
	if c.DialTimeout < 0 || c.OperationTimeout < 0 {
		return c, fmt.Errorf("queues: Config.DialTimeout %v and OperationTimeout %v must not be negative", c.DialTimeout, c.OperationTimeout)
	}
	if c.ReconnectMaxInterval == 0 {
		c.ReconnectMaxInterval = DefaultReconnectMax
	}
	if c.ConnectionName == "" {
		c.ConnectionName = "warren"
	}
	return c, nil
}

// urls splits the comma-separated URL list.
func (c Config) urls() []string {
	var out []string
	for _, u := range strings.Split(c.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// maxTimerDelay is the longest delay the ladder holds in one pass.
func (c Config) maxTimerDelay() time.Duration {
	return time.Duration((int64(1)<<c.TimerLevels)-1) * c.TimerTick
}

// redact hides the password of an AMQP URL for logs and errors.
func redact(raw string) string { return config.Redact(raw) }
