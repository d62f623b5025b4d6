package queues

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPublishThroughBrokerRestart publishes 5,000 confirmed messages while the broker's app
// stops and starts again (rabbitmqctl stop_app, start_app). It disturbs everyone using the
// broker, so it runs only under CI or with WARREN_TEST_BROKER_RESTART=1.
func TestPublishThroughBrokerRestart(t *testing.T) {
	if os.Getenv("CI") == "" && os.Getenv("WARREN_TEST_BROKER_RESTART") != "1" {
		t.Skip("restarts the broker: set WARREN_TEST_BROKER_RESTART=1 (or CI) to run it")
	}
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("rabbitmqctl is needed to restart the broker: %v", err)
		}
		t.Skipf("rabbitmqctl not found: %v", err)
	}
	c := newHub(t, func(cfg *Config) { cfg.Partitions = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	work := newCollector()
	redelivered := 0
	fresh := map[string]int{} // first deliveries (not redelivered) per id: one per publish that reached the queue
	var mu sync.Mutex
	k, err := c.Consume(ctx, WorkItemQueue(c.cfg.Hub), 200, func(d *Delivery) {
		mu.Lock()
		if d.Redelivered {
			redelivered++
		} else {
			fresh[d.ID]++
		}
		mu.Unlock()
		work.add(d)
		_ = d.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	timers := newTimerSink()
	kt, err := c.Consume(ctx, ControlQueue(c.cfg.Hub, 0), 50, timers.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer kt.Cancel()

	// Timers that are in the ladder while the broker restarts.
	for i := range 20 {
		id := fmt.Sprintf("timer-%d", i)
		due := time.Now().Add(500*time.Millisecond + time.Duration(i)*200*time.Millisecond)
		timers.expect(id, due)
		if err := c.Schedule(ctx, ControlQueue(c.cfg.Hub, 0), due, Message{ID: id}); err != nil {
			t.Fatal(err)
		}
	}

	// 200 batches paced 25 ms apart, so that publishing spans the restart.
	const n, batch = 5000, 25
	unconfirmed := map[string]bool{} // every id a Publish reported as not confirmed
	restart := make(chan struct{})
	published := make(chan error, 1)
	go func() {
		pace := time.NewTicker(25 * time.Millisecond)
		defer pace.Stop()
		for b := 0; b < n; b += batch {
			if b == n/20 {
				close(restart)
			}
			<-pace.C
			msgs := make([]Message, batch)
			for i := range msgs {
				msgs[i] = Message{ID: fmt.Sprintf("m-%05d", b+i)}
			}
			// Publish again what was not confirmed, as a caller would, until all is.
			for len(msgs) > 0 {
				err := c.Publish(ctx, WorkItemQueue(c.cfg.Hub), msgs...)
				if err == nil {
					break
				}
				var pe *PublishError
				if !errors.As(err, &pe) || len(pe.Unroutable) > 0 || ctx.Err() != nil {
					published <- err
					return
				}
				var again []Message
				for _, i := range pe.Unconfirmed {
					unconfirmed[msgs[i].ID] = true
					again = append(again, msgs[i])
				}
				msgs = again
			}
		}
		published <- nil
	}()

	<-restart
	t.Log("stopping the broker app")
	if out, err := exec.Command(ctl, "stop_app").CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl stop_app: %v\n%s", err, out)
	}
	// The outage lasts while the app is down; start it in any case, even if the test fails.
	startErr := func() error {
		out, err := exec.Command(ctl, "start_app").CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl start_app: %v\n%s", err, out)
		}
		return nil
	}()
	if startErr != nil {
		t.Fatal(startErr)
	}
	t.Log("broker app started again")

	if err := <-published; err != nil {
		t.Fatalf("publishing: %v", err)
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("%d distinct messages", n), func() bool { return work.distinct() == n })
	// On RabbitMQ 3.10 a quorum queue can come back before the exchanges it dead-letters to
	// ("dead-letter-exchange ... does not exist" in the broker log); its at-least-once
	// dead-letter worker then holds the messages it could not forward until its retry timer,
	// minutes later. So a timer in flight either arrives or is still held in the ladder —
	// never lost. (The worker sends an overdue timer of its instances again by itself.)
	var held int
	waitFor(t, 60*time.Second, "every timer arrived or held in the ladder", func() bool {
		held = ladderMessages(t, ctl, c.cfg.Hub)
		return timers.arrived()+held == 20
	})
	var worst time.Duration
	timers.mu.Lock()
	for id, l := range timers.late {
		if l < 0 {
			t.Errorf("timer %s arrived %v early", id, -l)
		}
		worst = max(worst, l)
	}
	if timers.unknown > 0 {
		t.Errorf("%d unknown timers arrived", timers.unknown)
	}
	timers.mu.Unlock()
	if held > 0 {
		t.Logf("%d of 20 timers held by the broker's dead-letter worker after the restart", held)
	}

	work.mu.Lock()
	defer work.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for id, count := range work.seen {
		if count > 1 {
			dups += count - 1
		}
		if fresh[id] > 1 && !unconfirmed[id] {
			t.Errorf("message %s was confirmed at once and yet reached the queue %d times", id, fresh[id])
		}
	}
	// A consumer's ack that the restart swallowed brings a message back (redelivered), which
	// is at-least-once consumption, not a publishing duplicate.
	if dups > len(unconfirmed)+redelivered {
		t.Errorf("%d duplicate deliveries, more than the %d reported unconfirmed plus %d redeliveries", dups, len(unconfirmed), redelivered)
	}
	t.Logf("%d messages: %d reported unconfirmed and published again, %d duplicates consumed, %d redeliveries; %d timers arrived, latest %v late",
		n, len(unconfirmed), dups, redelivered, 20-held, worst)
}

// ladderMessages counts the messages in the hub's timer-ladder queues, those the broker's
// dead-letter worker holds included (rabbitmqctl's "messages" counts them; AMQP's passive
// declare counts only ready ones).
func ladderMessages(t *testing.T, ctl, hub string) int {
	t.Helper()
	out, err := exec.Command(ctl, "list_queues", "-q", "--no-table-headers", "name", "messages").Output()
	if err != nil {
		t.Fatalf("rabbitmqctl list_queues: %v", err)
	}
	total := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.HasPrefix(f[0], hub+".delay.") {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("rabbitmqctl list_queues line %q: %v", line, err)
			}
			total += n
		}
	}
	return total
}
