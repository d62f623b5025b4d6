package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

func TestDeadLettersAreListedAndRedrivenFromTheQueuesPage(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	ctx := context.Background()
	now := time.Now().UTC()
	for _, d := range []history.DeadLetter{
		{ID: "m-1~aa", MessageID: "m-1", Kind: "ActivityRequest", InstanceID: "batch:device-0001", Reason: "activity input <b>bad</b>",
			SourceQueue: queues.WorkItemQueue(hub), Body: []byte(`{"x":"<script>"}`), PublishedAt: now, DeadAt: now},
		{ID: "m-2~bb", MessageID: "m-2", Kind: "TimerFired", Reason: "from elsewhere", SourceQueue: "other.queue", DeadAt: now},
	} {
		if err := r.store.PutDeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	p := r.get("/ui/queues")
	p.mustContain(t, `data-deadletter="m-1~aa"`, `activity input &lt;b&gt;bad&lt;/b&gt;`, `{&#34;x&#34;:&#34;&lt;script&gt;&#34;}`,
		`href="/ui/instances/batch:device-0001"`, queues.WorkItemQueue(hub), `action="/ui/deadletters/m-1~aa/redrive"`)

	csrf := p.csrf(t)
	p = r.post("/ui/deadletters/m-1~aa/redrive", url.Values{"csrf": {csrf}})
	p.mustContain(t, "Do you want to publish dead letter m-1~aa again")
	if n := len(r.broker.Pending(queues.WorkItemQueue(hub))); n != 0 {
		t.Fatalf("%d work items before the confirmation", n)
	}
	p = r.post("/ui/deadletters/m-1~aa/redrive", url.Values{"csrf": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusOK || p.url != "/ui/queues" {
		t.Fatalf("after the redrive: HTTP %d at %s", p.status, p.url)
	}
	p.mustContain(t, `id="redriven"`)
	p.mustNotContain(t, `data-deadletter="m-1~aa"`)
	sent := r.broker.Pending(queues.WorkItemQueue(hub))
	if len(sent) != 1 || sent[0].ID != "m-1" || sent[0].Kind != "ActivityRequest" || string(sent[0].Body) != `{"x":"<script>"}` {
		t.Errorf("redriven as %+v", sent)
	}

	// One from a queue that is not the hub's: the API's refusal in place, nothing sent.
	p = r.post("/ui/deadletters/m-2~bb/redrive", url.Values{"csrf": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusConflict {
		t.Errorf("redrive from another queue: HTTP %d", p.status)
	}
	p.mustContain(t, `id="deadletter-error"`, `came from &#34;other.queue&#34;`, `data-deadletter="m-2~bb"`)
	p = r.post("/ui/deadletters/nope/redrive", url.Values{"csrf": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusNotFound {
		t.Errorf("redrive of an unknown dead letter: HTTP %d", p.status)
	}
	if n := len(r.broker.Pending(queues.WorkItemQueue(hub))); n != 1 {
		t.Errorf("%d work items after the refused redrives, want the 1 redriven", n)
	}
}
