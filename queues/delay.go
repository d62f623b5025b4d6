package queues

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The timer ladder (docs/design.md section 3). Level k is a topic exchange and a quorum queue of
// the same name whose messages wait 2^k ticks (x-message-ttl) and then dead-letter, at least
// once, to the exchange of level k-1; below level 0 an exchange hands them to their
// destination. A scheduled message is published to the top level with a routing key that
// spells its delay in ticks in binary, most significant bit first, one word per level, then
// the destination queue:
//
//	5 ticks to warren.control.03 with 4 levels: "0.1.0.1.warren.control.03"
//
// Each level's exchange keeps the message in its queue when its bit is 1 and passes it down
// when it is 0, so a message waits exactly its delay, in as many hops as its delay has bits
// set. All messages of one level wait the same time, so a level's queue expires in order.
// The delay is rounded up to whole ticks: a message arrives late by up to a tick plus the
// hops, never early. A delay beyond the ladder is sent with the longest delay the ladder
// holds; the consumer re-arms what arrives before its due time (see Consume).

// Schedule delivers msgs to queue (a queue of this hub) at due, through the timer ladder.
// A due time that has passed publishes at once. Like Publish it returns nil only when the
// broker confirmed every message.
func (c *Conn) Schedule(ctx context.Context, queue string, due time.Time, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if !slices.Contains(destinations(c.cfg), queue) {
		return fmt.Errorf("queues: cannot schedule to %q: timers deliver only to this hub's queues (%s, %s, %s..%s)",
			queue, WorkItemQueue(c.cfg.Hub), DeadLetterQueue(c.cfg.Hub), ControlQueue(c.cfg.Hub, 0), ControlQueue(c.cfg.Hub, c.cfg.Partitions-1))
	}
	exchange, key := c.route(queue, due)
	return c.publish(ctx, exchange, key, queue, due, msgs)
}

// scheduleRaw is Schedule for a ready-made AMQP message.
func (c *Conn) scheduleRaw(ctx context.Context, queue string, due time.Time, p amqp.Publishing) error {
	exchange, key := c.route(queue, due)
	return c.send(ctx, exchange, key, queue, []amqp.Publishing{p})
}

// route is where a message for queue due at due is published: straight to the queue when it
// is due, else to the top of the ladder with its delay in the routing key.
func (c *Conn) route(queue string, due time.Time) (exchange, key string) {
	ticks := c.ticksUntil(due, time.Now())
	if ticks == 0 {
		return "", queue
	}
	return delayLevel(c.cfg.Hub, c.cfg.TimerLevels-1), delayKey(c.cfg.TimerLevels, ticks, queue)
}

// ticksUntil is the delay from now to due in ticks, rounded up and capped to the ladder.
func (c *Conn) ticksUntil(due, now time.Time) uint64 {
	d := due.Sub(now)
	if d <= 0 {
		return 0
	}
	tick := c.cfg.TimerTick
	ticks := uint64((d + tick - 1) / tick)
	if top := uint64(1)<<c.cfg.TimerLevels - 1; ticks > top {
		ticks = top
	}
	return ticks
}

// delayKey spells ticks in binary over levels words, most significant first, then the
// destination queue.
func delayKey(levels int, ticks uint64, queue string) string {
	var b strings.Builder
	b.Grow(2*levels + len(queue))
	for k := levels - 1; k >= 0; k-- {
		if ticks&(1<<k) != 0 {
			b.WriteString("1.")
		} else {
			b.WriteString("0.")
		}
	}
	b.WriteString(queue)
	return b.String()
}

// levelPattern matches the routing keys whose bit k is set (or clear).
func levelPattern(levels, k int, set bool) string {
	bit := "0"
	if set {
		bit = "1"
	}
	return strings.Repeat("*.", levels-1-k) + bit + ".#"
}

// deliverPattern matches the routing keys of messages bound for queue.
func deliverPattern(levels int, queue string) string {
	return strings.Repeat("*.", levels) + queue
}
