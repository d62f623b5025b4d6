package queues

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/internal/testenv"
)

var errCrash = errors.New("the upgrading process died here")

// A hub declared by an older release (other delivery limits) is refused by the new
// configuration; UpgradeTopology moves it over: refused while a queue has a consumer, then
// run four times, dying just after deleting a control queue, after a batch of work items
// reached the holding queue (before the ack), and after a batch went back (the same), and
// finishing on the fourth run. Every message published before is in its queue afterwards
// (the crashes in moves may leave copies of a batch each, never fewer), the queues have the
// new arguments, and no holding queue is left.
func TestUpgradeMovesAHubToNewArgumentsAndSurvivesDyingMidway(t *testing.T) {
	old := newHub(t, func(c *Config) { c.DeliveryLimit, c.ControlDeliveryLimit = 3, 50 })
	hub := old.Config().Hub
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() { deleteHolding(t, old) })

	want := map[string]string{} // message id -> queue
	send := func(queue string, n int) {
		msgs := make([]Message, n)
		for i := range msgs {
			msgs[i] = Message{ID: fmt.Sprintf("%s-%d", queue, i), Kind: "Test", InstanceID: "i", Body: []byte(`{}`)}
			want[msgs[i].ID] = queue
		}
		if err := old.Publish(ctx, queue, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	send(WorkItemQueue(hub), 250)
	send(ControlQueue(hub, 0), 120)
	send(ControlQueue(hub, 1), 7)
	send(DeadLetterQueue(hub), 3)

	newCfg := Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: 2, Logger: testLogger()}
	dial := func() *Conn {
		c, err := Dial(ctx, newCfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	if err := c.DeclareTopology(ctx); !errors.Is(err, ErrTopologyMismatch) {
		t.Fatalf("DeclareTopology over the older hub: %v, want a mismatch", err)
	}
	status, err := c.UpgradeStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := queueNames(status); !slices.Equal(got, []string{ControlQueue(hub, 0), ControlQueue(hub, 1), WorkItemQueue(hub)}) {
		t.Fatalf("UpgradeStatus lists %v (%+v), want the control queues and the work items", got, status)
	}

	// A process still consumes: refused, nothing touched.
	sub, err := old.Consume(ctx, ControlQueue(hub, 1), 1, func(*Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpgradeTopology(ctx); !errors.Is(err, ErrHubInUse) {
		t.Fatalf("UpgradeTopology with a consumer: %v, want ErrHubInUse", err)
	}
	if err := sub.Cancel(); err != nil {
		t.Fatal(err)
	}
	if exists, _ := queueExists(ctx, mustLink(t, c), WorkItemQueue(hub)+holdingSuffix); exists {
		t.Fatal("a refused upgrade declared a holding queue")
	}

	crashes := []struct{ point, queue string }{
		{"deleted", ControlQueue(hub, 0)},             // between steps 3 and 4
		{"moved", WorkItemQueue(hub)},                 // step 2, confirmed and not acked
		{"moved", WorkItemQueue(hub) + holdingSuffix}, // step 5, the same
	}
	for run := 0; ; run++ {
		if run < len(crashes) {
			cr := crashes[run]
			c.upgradeStep = func(point, queue string) error {
				if point == cr.point && queue == cr.queue {
					return errCrash
				}
				return nil
			}
		}
		done, err := c.UpgradeTopology(ctx)
		_ = c.Close()
		if run < len(crashes) {
			if !errors.Is(err, errCrash) {
				t.Fatalf("run %d: %v, want it to die at %v", run, err, crashes[run])
			}
			c = dial()
			if st, err := c.UpgradeStatus(ctx); err != nil || len(st) == 0 {
				t.Fatalf("run %d: status after dying %+v, %v; want the migration under way", run, st, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("the last run: %v", err)
		}
		t.Logf("upgraded: %+v", done)
		break
	}

	c = dial()
	defer c.Close()
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatalf("DeclareTopology after the upgrade: %v", err)
	}
	if st, err := c.UpgradeStatus(ctx); err != nil || len(st) != 0 {
		t.Fatalf("UpgradeStatus after the upgrade: %+v, %v; want nothing to do", st, err)
	}
	l := mustLink(t, c)
	for _, q := range queueSpecs(c.cfg) {
		if exists, err := queueExists(ctx, l, q.name+holdingSuffix); err != nil || exists {
			t.Fatalf("holding queue of %s left (%v)", q.name, err)
		}
	}
	if detail, err := differs(ctx, l, queueSpec{WorkItemQueue(hub), specOf(old.Config(), WorkItemQueue(hub))}); err != nil || detail == "" {
		t.Fatalf("the work items still take the old arguments (%v)", err)
	}

	got := drain(t, ctx, []string{WorkItemQueue(hub), ControlQueue(hub, 0), ControlQueue(hub, 1), DeadLetterQueue(hub)})
	copies := 0
	for id, q := range want {
		switch n := got[q][id]; {
		case n == 0:
			t.Errorf("message %s lost from %s", id, q)
		case n > 1:
			copies += n - 1
		}
	}
	for q, ids := range got {
		for id := range ids {
			if want[id] != q {
				t.Errorf("message %s in %s, sent to %q", id, q, want[id])
			}
		}
	}
	if copies > 2*moveBatch {
		t.Errorf("%d copies, more than the two batches the crashes in moves could leave", copies)
	}
	t.Logf("FIGURE: hub upgrade: %d messages in 4 queues moved to new arguments over 4 runs (3 died mid-way); 0 lost, %d copies", len(want), copies)
}

// mustLink is c's current connection.
func mustLink(t *testing.T, c *Conn) *link {
	t.Helper()
	l, err := c.connection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func queueNames(us []QueueUpgrade) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Queue)
	}
	slices.Sort(out)
	return out
}

// drain takes every message out of the queues, by id per queue.
func drain(t *testing.T, ctx context.Context, queues []string) map[string]map[string]int {
	t.Helper()
	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := map[string]map[string]int{}
	for _, q := range queues {
		out[q] = map[string]int{}
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		ds, err := ch.Consume(q, "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		for {
			batch, err := collect(ctx, ds, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				break
			}
			for _, d := range batch {
				out[q][d.MessageId]++
			}
		}
		_ = ch.Close()
	}
	return out
}

// deleteHolding deletes any holding queue a failed test left.
func deleteHolding(t *testing.T, c *Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := c.connection(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	for _, q := range queueSpecs(c.cfg) {
		if exists, err := queueExists(ctx, l, q.name+holdingSuffix); err == nil && exists {
			ch, err := l.channel(ctx)
			if err == nil {
				_, _ = ch.QueueDelete(q.name+holdingSuffix, false, false, false)
				l.closeChannel(ch)
			}
		}
	}
}

// A changed timer tick changes every ladder level's message TTL: the upgrade moves the
// timers waiting in the ladder through holding queues and back through their levels'
// exchanges with their routing keys, and each timer still reaches its queue, not before it
// is due.
func TestUpgradeMovesTheTimerLadder(t *testing.T) {
	old := newHub(t, func(c *Config) { c.TimerTick = 20 * time.Millisecond })
	hub := old.Config().Hub
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() { deleteHolding(t, old) })
	due := time.Now().Add(3 * time.Second)
	ids := map[string]bool{}
	for i := range 5 {
		id := fmt.Sprintf("timer-%d", i)
		ids[id] = true
		if err := old.Schedule(ctx, ControlQueue(hub, 0), due.Add(time.Duration(i)*time.Second), Message{ID: id, Kind: "Test", InstanceID: "i", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Dial(ctx, Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: 2, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	status, err := c.UpgradeStatus(ctx)
	if err != nil || len(status) != DefaultTimerLevels {
		t.Fatalf("UpgradeStatus: %d queues (%v), want every ladder level", len(status), err)
	}
	done, err := c.UpgradeTopology(ctx)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, u := range done {
		moved += u.Moved
	}
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatalf("DeclareTopology after the upgrade: %v", err)
	}
	got := make(chan *Delivery, 10)
	sub, err := c.Consume(ctx, ControlQueue(hub, 0), 10, func(d *Delivery) { _ = d.Ack(); got <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Cancel() }()
	for len(ids) > 0 {
		select {
		case d := <-got:
			if !ids[d.ID] {
				t.Fatalf("unexpected or repeated message %s", d.ID)
			}
			if time.Now().Before(d.Due) {
				t.Fatalf("timer %s arrived %s before it was due", d.ID, time.Until(d.Due))
			}
			delete(ids, d.ID)
		case <-ctx.Done():
			t.Fatalf("timers %v never arrived", ids)
		}
	}
	t.Logf("FIGURE: hub upgrade of the timer ladder: %d levels migrated, %d moves, 5 timers delivered after the upgrade, none early", len(done), moved)
}
