package dispatcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

func TestDeadLetterIDsAreStableAndStringsKeepable(t *testing.T) {
	m := queues.Message{ID: "m-1", Kind: "ActivityRequest", Reason: "bad", SourceQueue: "h.workitems"}
	a, b := deadLetterOf(m, testNow), deadLetterOf(m, testNow.Add(1))
	if a.ID != b.ID || !strings.HasPrefix(a.ID, "m-1~") {
		t.Errorf("ids %q and %q for one dead letter", a.ID, b.ID)
	}
	other := m
	other.Reason = "worse"
	if deadLetterOf(other, testNow).ID == a.ID {
		t.Error("another death of the message has the same id")
	}
	anon := queues.Message{Body: []byte("x")}
	anon2 := queues.Message{Body: []byte("y")}
	if deadLetterOf(anon, testNow).ID == deadLetterOf(anon2, testNow).ID {
		t.Error("two messages without an id share a record id")
	}
	poison := queues.Message{ID: "id\x00nul", Kind: "k\xff", InstanceID: "i\x00", Reason: "r\x00"}
	rec := deadLetterOf(poison, testNow)
	for _, s := range []string{rec.ID, rec.MessageID, rec.Kind, rec.InstanceID, rec.Reason} {
		if strings.ContainsRune(s, 0) || !strings.Contains(s, "\uFFFD") {
			t.Errorf("%q: want the NUL or bad byte replaced", s)
		}
	}
}

// collecting is a dispatcher of hub "dl" on the in-memory store and broker, collecting its
// dead letters until the test ends.
func collecting(t *testing.T) (*memstore.Store, *membroker.Broker, *membroker.Conn, *Dispatcher) {
	store := memstore.New(memstore.Options{})
	broker := membroker.New(membroker.Options{Hub: "dl", Partitions: 2})
	conn := broker.Connect("dispatcher")
	d, err := New(Config{Hub: "dl", Partitions: 2}, store, conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	consume := func(ctx context.Context, q string, prefetch int, h func(*queues.Delivery)) (func() error, error) {
		k, err := conn.Consume(ctx, q, prefetch, h)
		if err != nil {
			return nil, err
		}
		return k.Cancel, nil
	}
	if _, err := d.collectDeadLetters(ctx, consume, store); err != nil {
		t.Fatal(err)
	}
	return store, broker, conn, d
}

// The collector keeps what it cannot store whole: strings a store refuses are cleaned, a
// body over a record's limit is cut (and such a dead letter is refused a redrive).
func TestCollectorKeepsPoisonAndOversizedDeadLetters(t *testing.T) {
	store, broker, conn, d := collecting(t)
	ctx := context.Background()
	huge := make([]byte, 17<<20)
	dlq := queues.DeadLetterQueue("dl")
	if err := conn.Publish(ctx, dlq,
		queues.Message{ID: "nul\x00id", Kind: "K\x00", Reason: "garbage", SourceQueue: queues.ControlQueue("dl", 0), Body: []byte("{")},
		queues.Message{ID: "huge", Kind: "ActivityRequest", Reason: "too large", SourceQueue: queues.WorkItemQueue("dl"), Body: huge},
	); err != nil {
		t.Fatal(err)
	}
	for _, r := range broker.Ready() {
		for broker.Deliver(r) {
		}
	}
	if n := len(broker.Pending(dlq)); n != 0 || broker.Unacked() != 0 {
		t.Fatalf("%d dead letters left in the queue, %d unacked", n, broker.Unacked())
	}
	page, _, err := store.ListDeadLetters(ctx, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 {
		t.Fatalf("kept %d dead letters, want 2: %+v", len(page), page)
	}
	var big history.DeadLetter
	for _, p := range page {
		if p.MessageID == "huge" {
			big = p
		}
	}
	if !big.Truncated || len(big.Body) != truncatedBody {
		t.Errorf("the oversized dead letter: truncated %v, %d bytes kept", big.Truncated, len(big.Body))
	}
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/deadletters/"+big.ID+"/redrive", nil))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "too large to keep whole") {
		t.Errorf("redrive of a truncated dead letter: %d %s", rec.Code, rec.Body)
	}
	if n := len(broker.Pending(queues.WorkItemQueue("dl"))); n != 0 {
		t.Errorf("%d work items sent", n)
	}
}

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// A work item the broker dead-letters for its delivery limit (returned again and again, as
// connections that reset before the worker sees it return it) goes back to the work-item
// queue, carrying the deliveries it spent, instead of into the dead-letter store: the
// workers' delivery budget decides when its task fails. A work item dead-lettered for
// another reason, or one that has circulated past any budget, is kept.
func TestCollectorRenewsWorkItemsThatReachedTheDeliveryLimit(t *testing.T) {
	store, broker, conn, _ := collecting(t)
	ctx := context.Background()
	work := queues.WorkItemQueue("dl")
	var renewed []queues.Message
	worker := broker.Connect("worker")
	if _, err := worker.Consume(ctx, work, 1, func(dv *queues.Delivery) {
		if dv.Message.PriorDeliveries == 0 {
			_ = dv.Nack(true) // a connection that drops with it, again and again
			return
		}
		renewed = append(renewed, dv.Message)
		_ = dv.Ack()
	}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(ctx, work, queues.Message{ID: "wi-1", Kind: "ActivityRequest", InstanceID: "i1", Body: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	dlq := queues.DeadLetterQueue("dl")
	past := queues.Message{ID: "wi-2", Kind: "ActivityRequest", InstanceID: "i2", Body: []byte(`{}`), SourceQueue: work,
		Reason: queues.BrokerReason(work, "delivery_limit"), PriorDeliveries: maxRenewedDeliveries}
	other := queues.Message{ID: "wi-3", Kind: "ActivityRequest", InstanceID: "i3", Body: []byte(`{`), SourceQueue: work,
		Reason: "undecodable activity request"}
	if err := conn.Publish(ctx, dlq, past, other); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		rs := broker.Ready()
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			broker.Deliver(r)
		}
	}
	if len(renewed) != 1 || renewed[0].ID != "wi-1" || renewed[0].InstanceID != "i1" || string(renewed[0].Body) != `{"a":1}` ||
		renewed[0].PriorDeliveries != queues.DefaultDeliveryLimit || renewed[0].Reason != "" {
		t.Fatalf("renewed work items: %+v; want wi-1 once, carrying %d deliveries", renewed, queues.DefaultDeliveryLimit)
	}
	page, _, err := store.ListDeadLetters(ctx, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, p := range page {
		kept[p.MessageID] = true
	}
	if len(page) != 2 || !kept["wi-2"] || !kept["wi-3"] {
		t.Fatalf("kept %+v; want wi-2 (past any budget) and wi-3 (not a delivery limit)", page)
	}
	if n := len(broker.Pending(dlq)) + len(broker.Pending(work)); n != 0 || broker.Unacked() != 0 {
		t.Fatalf("%d messages left in the queues, %d unacked", n, broker.Unacked())
	}
}
