package membroker

import (
	"sync"
	"time"

	"github.com/warrenhq/warren/queues"
)

// Options shape a broker; zero fields take defaults.
type Options struct {
	// Hub names the queues (default queues.DefaultHub).
	Hub string
	// Partitions is the number of control queues (default queues.DefaultPartitions).
	Partitions int
	// Now is the virtual clock: Schedule and Tick compare due times with it, and it stamps
	// messages published without a Timestamp. Nil means a clock that stands at the zero time.
	Now func() time.Time
	// WorkItemDeliveryLimit is how often the work-item queue may take a delivery back before
	// it dead-letters the message (default queues.DefaultDeliveryLimit; negative: no limit).
	WorkItemDeliveryLimit int
	// ControlDeliveryLimit is the same for the control queues (0: no limit, as Warren
	// declares them).
	ControlDeliveryLimit int
	// Faults, when set, is asked once per message published or scheduled what goes wrong.
	Faults func(FaultPoint) Fault
}

func (o Options) withDefaults() Options {
	if o.Hub == "" {
		o.Hub = queues.DefaultHub
	}
	if o.Partitions <= 0 {
		o.Partitions = queues.DefaultPartitions
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Time{} }
	}
	switch {
	case o.WorkItemDeliveryLimit == 0:
		o.WorkItemDeliveryLimit = queues.DefaultDeliveryLimit
	case o.WorkItemDeliveryLimit < 0:
		o.WorkItemDeliveryLimit = 0
	}
	if o.ControlDeliveryLimit < 0 {
		o.ControlDeliveryLimit = 0
	}
	return o
}

// Broker is one in-memory RabbitMQ holding one hub. Its methods are safe for concurrent use,
// but it is meant to be driven from one goroutine: it starts none, and it calls handlers
// only from Deliver, in the caller's goroutine, without holding its lock.
type Broker struct {
	opts Options

	mu          sync.Mutex
	queues      map[string]*queue
	order       []*queue // declaration order: control queues, work items, dead letters
	deadLetterQ *queue
	seq         uint64 // message ids, delivery tags and consumer tags, in one sequence
	timers      timers
	unacked     int
	announced   []queues.Message
	deadLetters []queues.Message
	discarded   []queues.Message
}

// New returns a broker with the hub's queues declared.
func New(opts Options) *Broker {
	opts = opts.withDefaults()
	b := &Broker{opts: opts, queues: map[string]*queue{}}
	for p := range opts.Partitions {
		b.declare(&queue{name: queues.ControlQueue(opts.Hub, p), limit: opts.ControlDeliveryLimit, singleActive: true})
	}
	b.declare(&queue{name: queues.WorkItemQueue(opts.Hub), limit: opts.WorkItemDeliveryLimit})
	b.deadLetterQ = &queue{name: queues.DeadLetterQueue(opts.Hub)}
	b.declare(b.deadLetterQ)
	return b
}

func (b *Broker) declare(q *queue) {
	b.queues[q.name] = q
	b.order = append(b.order, q)
}

// now is the virtual clock.
func (b *Broker) now() time.Time { return b.opts.Now() }

// next returns the next number of the broker's one sequence.
func (b *Broker) next() uint64 {
	b.seq++
	return b.seq
}
