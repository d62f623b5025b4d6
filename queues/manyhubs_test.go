package queues

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/internal/testenv"
)

// Issue 8: a RabbitMQ 3.10 node stopped answering after half an hour of tests and
// benchmarks that each made a hub and never deleted it (a quorum queue reserves three of
// the node's file handles, about 930 with ulimit -n 1024; past that no new connection gets
// its handshake). This test runs many hubs' worth of Warren traffic against the one broker,
// ten one after the other and five at once, each deleted when done, and checks that the
// broker still answers a new connection and a declaration quickly.
func TestManyHubsLeaveTheBrokerAnswering(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	if testing.Short() {
		t.Skip("many hubs: skipped with -short")
	}
	before, err := testenv.CheckRabbitMQ(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	handlesBefore := fileHandlesInUse()
	var hubs []string
	var mu sync.Mutex
	run := func(t *testing.T, partitions int) {
		hub := useHub(t, partitions)
		mu.Lock()
		hubs = append(hubs, hub)
		mu.Unlock()
	}
	t.Run("one after the other", func(t *testing.T) {
		for range 10 {
			run(t, DefaultPartitions)
		}
	})
	t.Run("at once", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { run(t, 8) })
		}
		wg.Wait()
	})
	after, err := testenv.CheckRabbitMQ(10 * time.Second)
	if err != nil {
		t.Fatalf("after %d hubs: %v", len(hubs), err)
	}
	t.Logf("a new connection and a queue.declare took %v before the hubs, %v after %d hubs", before.Round(time.Millisecond), after.Round(time.Millisecond), len(hubs))
	// Other tests may use the broker meanwhile, so the handles are reported, not compared.
	t.Logf("the broker's file handles in use (rabbitmqctl, when it runs here): %s before, %s after", handlesBefore, fileHandlesInUse())
	if after > 2*time.Second {
		t.Errorf("after %d hubs the broker took %v to answer a new connection and a declaration", len(hubs), after)
	}
	// Nothing of the hubs is left on the broker.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: testenv.AMQPURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := c.connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, hub := range hubs {
		for _, q := range []string{ControlQueue(hub, 0), WorkItemQueue(hub), DeadLetterQueue(hub), delayLevel(hub, 0)} {
			if ok, err := queueExists(ctx, conn, q); err != nil || ok {
				t.Errorf("queue %s is still on the broker (err %v)", q, err)
			}
		}
	}
}

// useHub declares a hub, puts Warren's kinds of traffic through it (control messages to
// every partition, work items, timers, announcements), checks that all arrived, and
// deletes the hub. It returns the hub's name.
func useHub(t *testing.T, partitions int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{URL: testenv.AMQPURL(), Hub: testenv.UniqueName("many"), Partitions: partitions, Logger: testLogger()}
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Error(err)
		return cfg.Hub
	}
	defer c.Close()
	keep := testenv.OnInterrupt(func() { _ = c.DeleteTopology(context.Background()) })
	defer func() {
		keep()
		// With deadlines: a broker that stops answering (RabbitMQ out of file handles, say)
		// fails the test instead of hanging it until the package's timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.StopListening(ctx, "many")
		if err := c.DeleteTopology(ctx); err != nil {
			t.Errorf("DeleteTopology %s: %v", cfg.Hub, err)
		}
	}()
	if err := c.DeclareTopology(ctx); err != nil {
		t.Error(err)
		return cfg.Hub
	}
	col := newCollector()
	handle := func(d *Delivery) { col.add(d); _ = d.Ack() }
	var consumers []*Consumer
	defer func() {
		for _, k := range consumers {
			k.Cancel()
		}
	}()
	queues := []string{WorkItemQueue(cfg.Hub)}
	for p := range partitions {
		queues = append(queues, ControlQueue(cfg.Hub, p))
	}
	for _, q := range queues {
		k, err := c.Consume(ctx, q, 32, handle)
		if err != nil {
			t.Error(err)
			return cfg.Hub
		}
		consumers = append(consumers, k)
	}
	k, err := c.Listen(ctx, "many", handle)
	if err != nil {
		t.Error(err)
		return cfg.Hub
	}
	consumers = append(consumers, k) // cancelled before the deferred DeleteTopology

	want := 0
	var work []Message
	for i := range 100 {
		work = append(work, Message{ID: fmt.Sprintf("w-%d", i), Kind: "ActivityRequest", Body: []byte("{}")})
	}
	want += len(work)
	if err := c.Publish(ctx, WorkItemQueue(cfg.Hub), work...); err != nil {
		t.Error(err)
		return cfg.Hub
	}
	for i := range 200 {
		id := fmt.Sprintf("instance-%d", i)
		q := ControlQueue(cfg.Hub, PartitionOf(id, partitions))
		if err := c.Publish(ctx, q, Message{ID: "c-" + id, Kind: "ExecutionStarted", InstanceID: id}); err != nil {
			t.Error(err)
			return cfg.Hub
		}
		want++
		if i%10 == 0 {
			due := time.Now().Add(time.Duration(50+i) * time.Millisecond)
			if err := c.Schedule(ctx, q, due, Message{ID: "t-" + id, Kind: "TimerFired", InstanceID: id}); err != nil {
				t.Error(err)
				return cfg.Hub
			}
			want++
		}
	}
	for i := range 5 {
		if err := c.Announce(ctx, Message{ID: fmt.Sprintf("a-%d", i), Kind: "Ended"}); err != nil {
			t.Error(err)
			return cfg.Hub
		}
		want++
	}
	deadline := time.Now().Add(30 * time.Second)
	for col.distinct() < want {
		if time.Now().After(deadline) {
			t.Errorf("hub %s: %d of %d messages arrived", cfg.Hub, col.distinct(), want)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cfg.Hub
}

// fileHandlesInUse asks the local node how many of its file handles are in use (the budget
// quorum queues spend), or says why it cannot.
func fileHandlesInUse() string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "eval", "file_handle_cache:info([total_used, total_limit]).").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}
