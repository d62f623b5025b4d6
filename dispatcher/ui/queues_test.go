package ui_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/dispatcher/ui"
	"github.com/warrenhq/warren/queues"
)

func TestQueuesPageShowsEachQueue(t *testing.T) {
	depths := []queues.QueueDepth{
		{Name: "h.control.00", Role: "control", Partition: 0, Level: -1, Messages: 3, Consumers: 1},
		{Name: "h.control.01", Role: "control", Partition: 1, Level: -1, Missing: true},
		{Name: "h.workitems", Role: "workitems", Partition: -1, Level: -1, Messages: 7, Consumers: 3},
		{Name: "h.deadletter", Role: "deadletter", Partition: -1, Level: -1, Messages: 2},
		{Name: "h.delay.00", Role: "timer", Partition: -1, Level: 0, Messages: 4},
		{Name: "h.delay.01", Role: "timer", Partition: -1, Level: 1, Messages: 5},
	}
	var fail error
	h := ui.New(ui.Config{API: noDeadLetters{}, Depths: func(context.Context) ([]queues.QueueDepth, error) { return depths, fail }})
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/queues", nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get()
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	for _, want := range []string{
		`data-queue="h.control.00" data-role="control"><td>0</td><td>h.control.00</td><td class="depth">3</td><td>1</td>`,
		`<td>h.control.01</td><td class="depth">missing</td>`,
		`<td>h.workitems</td><td class="depth">7</td><td>3</td>`,
		`<td>h.deadletter</td><td class="depth">2</td>`,
		`<b id="timer-total">9</b> timers wait`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	depths, fail = nil, errors.New("queue.declare timed out")
	if code, body = get(); code != http.StatusBadGateway || !strings.Contains(body, "The broker did not say: queue.declare timed out") {
		t.Errorf("a broker that does not answer: HTTP %d\n%s", code, body)
	}
}

func TestQueuesPageWithoutABrokerThatCounts(t *testing.T) {
	r := newRig(t, dispatcher.Config{}) // the in-memory broker reports no depths
	p := r.get("/ui/queues")
	p.mustContain(t, "does not report queue depths", `id="no-deadletters"`)
}

// noDeadLetters is an API with no dead letters; the queues page asks it nothing else.
type noDeadLetters struct{ ui.API }

func (noDeadLetters) DeadLetters(context.Context, int, string) (*api.DeadLettersResponse, error) {
	return &api.DeadLettersResponse{}, nil
}
