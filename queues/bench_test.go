package queues

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenhq/warren/internal/testenv"
)

// Run: go test -run '^$' -bench . -benchtime 20000x ./queues/
// (BenchmarkTimerLateness ignores -benchtime: each run is 1,000 timers.)

const benchBatch = 100

func benchMessage(i int) Message {
	return Message{
		ID: fmt.Sprintf("bench-%d", i), Kind: "ActivityRequest", InstanceID: "instance-1",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		Body:        make([]byte, 256),
	}
}

// rawPublishing is what queues sends for benchMessage, built by hand for the raw client.
func rawPublishing(i int) amqp.Publishing {
	m := benchMessage(i)
	return amqp.Publishing{
		Headers:      amqp.Table{headerInstanceID: m.InstanceID, headerTraceParent: m.TraceParent},
		DeliveryMode: amqp.Persistent, MessageId: m.ID, Type: m.Kind, Timestamp: time.Now(), Body: m.Body,
	}
}

// rawChannel opens a plain amqp091-go connection and channel.
func rawChannel(b *testing.B) (*amqp.Connection, *amqp.Channel) {
	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		b.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	return conn, ch
}

func purge(b *testing.B, c *Conn, q string) {
	conn, err := c.connection(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.QueuePurge(q, false); err != nil {
		b.Fatal(err)
	}
}

func rate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPublish publishes persistent messages with the mandatory flag in batches of 100,
// each batch's confirms awaited together, through queues and through raw amqp091-go.
func BenchmarkPublish(b *testing.B) {
	c := newHub(b, func(cfg *Config) { cfg.Partitions = 1 })
	q := ControlQueue(c.cfg.Hub, 0)
	ctx := context.Background()
	// Warm the broker and the queue up first: whichever side ran first was slower.
	fill(b, q, 20000)
	purge(b, c, q)
	b.Run("queues", func(b *testing.B) {
		defer purge(b, c, q)
		msgs := make([]Message, 0, benchBatch)
		start := time.Now()
		for i := 0; i < b.N; i += benchBatch {
			msgs = msgs[:0]
			for j := i; j < min(i+benchBatch, b.N); j++ {
				msgs = append(msgs, benchMessage(j))
			}
			if err := c.Publish(ctx, q, msgs...); err != nil {
				b.Fatal(err)
			}
		}
		rate(b, start)
	})
	b.Run("raw", func(b *testing.B) {
		defer purge(b, c, q)
		conn, ch := rawChannel(b)
		defer conn.Close()
		if err := ch.Confirm(false); err != nil {
			b.Fatal(err)
		}
		returns := ch.NotifyReturn(make(chan amqp.Return, 1))
		go func() {
			for range returns {
			}
		}()
		dcs := make([]*amqp.DeferredConfirmation, 0, benchBatch)
		start := time.Now()
		for i := 0; i < b.N; i += benchBatch {
			dcs = dcs[:0]
			for j := i; j < min(i+benchBatch, b.N); j++ {
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, true, false, rawPublishing(j))
				if err != nil {
					b.Fatal(err)
				}
				dcs = append(dcs, dc)
			}
			for _, dc := range dcs {
				if !dc.Wait() {
					b.Fatal("nack")
				}
			}
		}
		rate(b, start)
	})
}

// fill puts n messages in q with raw confirmed publishing, outside the timed part.
func fill(b *testing.B, q string, n int) {
	b.StopTimer()
	defer b.StartTimer()
	conn, ch := rawChannel(b)
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	var dcs []*amqp.DeferredConfirmation
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", q, false, false, rawPublishing(i))
		if err != nil {
			b.Fatal(err)
		}
		dcs = append(dcs, dc)
	}
	for _, dc := range dcs {
		if !dc.Wait() {
			b.Fatal("nack while filling")
		}
	}
}

// BenchmarkConsume consumes and acks (one by one) messages waiting in a queue with prefetch
// 200, through queues and through raw amqp091-go.
func BenchmarkConsume(b *testing.B) {
	c := newHub(b, func(cfg *Config) { cfg.Partitions = 1 })
	q := ControlQueue(c.cfg.Hub, 0)
	// Warm the broker and the queue up first: whichever side ran first was faster or slower.
	fill(b, q, 20000)
	drainRaw(b, q, 20000)
	b.Run("queues", func(b *testing.B) {
		fill(b, q, b.N)
		broker := brokerCPU()
		var wg sync.WaitGroup
		wg.Add(b.N)
		n := 0
		start := time.Now()
		k, err := c.Consume(context.Background(), q, 200, func(d *Delivery) {
			if err := d.Ack(); err != nil {
				b.Error(err)
			}
			if n++; n <= b.N {
				wg.Done()
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		rate(b, start)
		_ = k.Cancel()
		reportBrokerCPU(b, broker)
	})
	b.Run("raw", func(b *testing.B) {
		fill(b, q, b.N)
		broker := brokerCPU()
		start := time.Now()
		drainRaw(b, q, b.N)
		rate(b, start)
		reportBrokerCPU(b, broker)
	})
}

// drainRaw consumes and acks n messages of q with plain amqp091-go, prefetch 200.
func drainRaw(b *testing.B, q string, n int) {
	conn, ch := rawChannel(b)
	defer conn.Close()
	if err := ch.Qos(200, 0, false); err != nil {
		b.Fatal(err)
	}
	deliveries, err := ch.Consume(q, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		d := <-deliveries
		// The same decoding queues does, so that both sides do the same work.
		_ = Message{ID: d.MessageId, Kind: d.Type, InstanceID: headerString(d.Headers, headerInstanceID),
			TraceParent: headerString(d.Headers, headerTraceParent), Body: d.Body, Timestamp: d.Timestamp}
		if err := d.Ack(false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTimerLateness schedules 1,000 timers due 0.1–3 s ahead through the ladder and
// reports how late they arrived (none may be early). It is one round whatever b.N is.
func BenchmarkTimerLateness(b *testing.B) {
	c := newHub(b, func(cfg *Config) { cfg.Partitions = 1 })
	q := ControlQueue(c.cfg.Hub, 0)
	ctx := context.Background()
	{
		sink := newTimerSink()
		k, err := c.Consume(ctx, q, 200, sink.handle)
		if err != nil {
			b.Fatal(err)
		}
		const n = 1000
		for i := range n {
			id := fmt.Sprintf("t-%d", i)
			due := time.Now().Add(100*time.Millisecond + time.Duration(rand.Int64N(int64(2900*time.Millisecond))))
			sink.expect(id, due)
			if err := c.Schedule(ctx, q, due, Message{ID: id}); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, 30*time.Second, "1000 timers", func() bool { return sink.arrived() == n })
		p50, p99, worst := sink.check(b)
		_ = k.Cancel()
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
	}
}

// brokerCPU is the CPU time RabbitMQ's processes (beam.smp, on this machine) have used so
// far, in seconds, or -1 where /proc does not tell.
func brokerCPU() float64 {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	total, found := 0.0, false
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil || !bytes.Contains(stat, []byte("(beam.smp)")) {
			continue
		}
		// Fields after the command's closing parenthesis: state is the first, utime the
		// 12th and stime the 13th (proc(5)), in clock ticks of 1/100 s.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseFloat(fields[11], 64)
		stime, _ := strconv.ParseFloat(fields[12], 64)
		total, found = total+(utime+stime)/100, true
	}
	if !found {
		return -1
	}
	return total
}

// reportBrokerCPU reports RabbitMQ's CPU per message since before, when it could be read:
// with the broker shared by nothing else, the cost of consuming and acking one message.
func reportBrokerCPU(b *testing.B, before float64) {
	if after := brokerCPU(); before >= 0 && after >= 0 {
		b.ReportMetric((after-before)/float64(b.N)*1e6, "broker-µs/msg")
	}
}
