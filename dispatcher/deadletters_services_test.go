package dispatcher_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/queues"
)

// A message in the dead-letter queue is moved into the store, listed with its reason and
// source, and redriven to the queue it died in; a second redrive is a 404.
func TestServicesDeadLettersAreKeptListedAndRedriven(t *testing.T) {
	r := newServicesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := append([]byte(`{"activity":"SendPackageUrlToDevice"}`), 0xff, 0xfe) // not all UTF-8
	err := r.ch.PublishWithContext(ctx, "", queues.DeadLetterQueue(r.hub), false, false, amqp.Publishing{
		MessageId: "wi-1", Type: "ActivityRequest", Body: body, DeliveryMode: amqp.Persistent, Timestamp: time.Now(),
		Headers: amqp.Table{"x-instance-id": "batch-1:device-0001", "x-warren-reason": "activity input does not decode",
			"x-warren-source-queue": queues.WorkItemQueue(r.hub)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var dl api.DeadLetter
	fleettest.WaitUntil(t, 30*time.Second, "the dead letter listed", func() bool {
		resp, err := r.c.DeadLetters(ctx, 0, "")
		if err != nil || len(resp.DeadLetters) == 0 {
			return false
		}
		dl = resp.DeadLetters[0]
		return true
	})
	if dl.MessageID != "wi-1" || dl.Kind != "ActivityRequest" || dl.InstanceID != "batch-1:device-0001" ||
		dl.Reason != "activity input does not decode" || dl.SourceQueue != queues.WorkItemQueue(r.hub) ||
		dl.BodyBytes != len(body) || !strings.HasPrefix(dl.BodyExcerpt, `{"activity":"SendPackageUrlToDevice"}`) {
		t.Errorf("listed %+v", dl)
	}
	if depth := r.depth(t, queues.DeadLetterQueue(r.hub)); depth != 0 {
		t.Errorf("%d messages left in the dead-letter queue", depth)
	}

	if _, err := r.c.Redrive(ctx, dl.ID); err != nil {
		t.Fatal(err)
	}
	got := r.take(t, queues.WorkItemQueue(r.hub))
	if got.MessageId != "wi-1" || got.Type != "ActivityRequest" || string(got.Body) != string(body) || got.Headers["x-instance-id"] != "batch-1:device-0001" {
		t.Errorf("redriven as %s %s %q %v", got.MessageId, got.Type, got.Body, got.Headers)
	}
	resp, err := r.c.DeadLetters(ctx, 0, "")
	if err != nil || len(resp.DeadLetters) != 0 {
		t.Errorf("after the redrive: %+v, %v", resp, err)
	}
	_, err = r.c.Redrive(ctx, dl.ID)
	if ae, ok := err.(*client.APIError); !ok || ae.StatusCode != http.StatusNotFound {
		t.Errorf("a second redrive: %v", err)
	}
}

// depth is how many messages are ready in queue.
func (r *servicesRig) depth(t *testing.T, queue string) int {
	t.Helper()
	q, err := r.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// On RabbitMQ: a work item returned until the broker dead-letters it for its delivery limit
// comes back to the work-item queue as a fresh copy that carries the deliveries it spent,
// and no dead letter is kept.
func TestServicesWorkItemsPastTheDeliveryLimitAreRenewed(t *testing.T) {
	r := newServicesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	work := queues.WorkItemQueue(r.hub)
	err := r.ch.PublishWithContext(ctx, "", work, false, false, amqp.Publishing{
		MessageId: "wi-limit", Type: "ActivityRequest", Body: []byte(`{"a":1}`), DeliveryMode: amqp.Persistent,
		Headers: amqp.Table{"x-instance-id": "i-limit"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := r.ch.Consume(work, "test-return", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got amqp.Delivery
	returned := 0
	for got.MessageId == "" {
		select {
		case d := <-ds:
			if _, renewed := d.Headers["x-warren-prior-deliveries"]; renewed {
				got = d
				if err := d.Ack(false); err != nil {
					t.Fatal(err)
				}
				break
			}
			returned++
			if err := d.Nack(false, true); err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("no renewed copy after %d returns", returned)
		}
	}
	_ = r.ch.Cancel("test-return", false)
	if got.MessageId != "wi-limit" || string(got.Body) != `{"a":1}` || got.Headers["x-instance-id"] != "i-limit" ||
		got.Headers["x-warren-prior-deliveries"] != int64(queues.DefaultDeliveryLimit) {
		t.Errorf("renewed as %s %q %v", got.MessageId, got.Body, got.Headers)
	}
	if returned <= queues.DefaultDeliveryLimit {
		t.Errorf("renewed after %d returns; the broker's limit is %d", returned, queues.DefaultDeliveryLimit)
	}
	resp, err := r.c.DeadLetters(ctx, 0, "")
	if err != nil || len(resp.DeadLetters) != 0 {
		t.Errorf("dead letters kept: %+v, %v", resp, err)
	}
}
