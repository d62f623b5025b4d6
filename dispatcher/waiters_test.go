package dispatcher

import (
	"context"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

func TestWaitersWakeOnlyTheirInstance(t *testing.T) {
	w := newWaiters()
	a, forgetA := w.add("a")
	defer forgetA()
	b, forgetB := w.add("b")
	defer forgetB()
	w.wake("a")
	select {
	case <-a:
	default:
		t.Fatal("the waiter of a was not woken")
	}
	select {
	case <-b:
		t.Fatal("the waiter of b was woken by a's notice")
	default:
	}
	forgetB()
	w.wake("b") // after forget: nothing to close, no panic
}

// A dispatcher opened on real services hears a worker's announcement that an instance ended.
func TestOpenListensForEndedInstances(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hub := testenv.UniqueName("wake")
	d, err := Open(ctx, Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		_ = conn.DeleteTopology(context.Background())
		conn.Close()
		if s, err := mongostore.Open(context.Background(), mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
			_ = s.DropHub(context.Background())
			s.Close(context.Background())
		}
	})
	ended, forget := d.waiters.add("instance-1")
	defer forget()
	if err := conn.Announce(ctx, queues.Message{Kind: history.MessageKindEnded, InstanceID: "instance-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the announcement did not reach the dispatcher's waiter")
	}
}
