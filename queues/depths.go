package queues

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// QueueDepth is what the broker says of one of the hub's queues: the messages ready in it
// (not those delivered and unacknowledged) and its consumers.
type QueueDepth struct {
	Name      string
	Role      string // control, workitems, deadletter, timer
	Partition int    // of a control queue; -1 otherwise
	Level     int    // of a timer-ladder queue; -1 otherwise
	Messages  int
	Consumers int
	Missing   bool // the queue is not declared
}

// Depths asks the broker for the depth of each of the hub's queues: the control queues,
// the work items, the dead letters and the timer ladder's levels, with one passive declare
// each on one channel (a missing queue closes it, and the next is opened). It is what the
// dashboard's queues page shows; nothing else calls it.
func (c *Conn) Depths(ctx context.Context) ([]QueueDepth, error) {
	var want []QueueDepth
	for p := range c.cfg.Partitions {
		want = append(want, QueueDepth{Name: ControlQueue(c.cfg.Hub, p), Role: "control", Partition: p, Level: -1})
	}
	want = append(want,
		QueueDepth{Name: WorkItemQueue(c.cfg.Hub), Role: "workitems", Partition: -1, Level: -1},
		QueueDepth{Name: DeadLetterQueue(c.cfg.Hub), Role: "deadletter", Partition: -1, Level: -1})
	for k := range c.cfg.TimerLevels {
		want = append(want, QueueDepth{Name: delayLevel(c.cfg.Hub, k), Role: "timer", Partition: -1, Level: k})
	}
	conn, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	var ch *amqp.Channel
	defer func() {
		if ch != nil {
			conn.closeChannel(ch)
		}
	}()
	for i := range want {
		if ch == nil {
			if ch, err = conn.channel(ctx); err != nil {
				return nil, fmt.Errorf("queues: open channel: %w", err)
			}
		}
		var q amqp.Queue
		err := conn.do(ctx, "queue.declare (passive)", func() error {
			var err error
			q, err = ch.QueueDeclarePassive(want[i].Name, true, false, false, false, nil)
			return err
		})
		var ae *amqp.Error
		switch {
		case errors.As(err, &ae) && ae.Code == amqp.NotFound:
			want[i].Missing, ch = true, nil // the broker closed the channel
		case err != nil:
			return nil, fmt.Errorf("queues: depth of %s: %w", want[i].Name, err)
		default:
			want[i].Messages, want[i].Consumers = q.Messages, q.Consumers
		}
	}
	return want, nil
}
