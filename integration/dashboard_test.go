package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

// TestDashboardInABrowser drives the dashboard in headless Chromium against a fleet on the
// real services: it logs in with the token, finds the seed scenario's parent in the list,
// sees its 5 children, acknowledges one device's download from the UI and watches it
// complete, sees a bad event body refused in place, follows the trace link's address, opens
// the workers page, and terminates the batch with its children. Each page is saved as a
// screenshot.
func TestDashboardInABrowser(t *testing.T) {
	testenv.RequireJaeger(t)
	b := newBrowser(t)
	const token = "dashboard-test-token"
	f := fleettest.Start(t, fleettest.Options{Workers: 3, Env: []string{
		"WARREN_TOKEN=" + token,
		"WARREN_JAEGER_UI=" + testenv.JaegerQueryURL(),
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + testenv.JaegerOTLPEndpoint(),
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	}})
	batch := testenv.UniqueName("batch")
	out := f.MustClient("start", "ProvisionNewDevices", "--input", `{"devices": 5}`, "--id", batch, "--json")
	var started struct {
		TraceID string `json:"traceId"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil {
		t.Fatalf("start answered %q: %v", out, err)
	}

	// Nothing without the token: the list answers with the login form.
	b.run("opening the list", 20*time.Second, chromedp.Navigate(f.URL+"/ui/instances"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	b.screenshot("login")
	b.run("logging in with a wrong token", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#token`), "not-it"), chromedp.Click(chromedp.CSS(`#login`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error`)))
	b.run("logging in", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#token`), token), chromedp.Click(chromedp.CSS(`#login`)),
		chromedp.WaitVisible(chromedp.CSS(`table.instances`)))

	// The list finds the parent (it refreshes itself until the start is listed).
	parentLink := `tr[data-instance="` + batch + `"] a.instance-link`
	b.run("finding the parent", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(parentLink)))
	b.waitTextHas(`a[data-status="Running"]`, "Running", 10*time.Second)
	b.screenshot("instances")
	b.run("opening the parent", 20*time.Second, chromedp.Click(chromedp.CSS(parentLink)),
		chromedp.WaitVisible(chromedp.CSS(`#instance-id`)))
	if got := b.text(`#instance-id`); got != batch {
		t.Fatalf("opened %q, want %q", got, batch)
	}
	b.waitTextIs(`#child-total`, "5", 60*time.Second)
	childIDs := eval[[]string](b, "reading the children",
		`Array.from(document.querySelectorAll('#child-list li')).map(li => li.dataset.child)`)
	if len(childIDs) != 5 {
		t.Fatalf("the tree shows %d children %v, want 5", len(childIDs), childIDs)
	}

	// The trace link goes to this instance's trace in the Jaeger UI, which answers there.
	href := b.attr(`#trace-link`, "href")
	if want := testenv.JaegerQueryURL() + "/trace/" + started.TraceID; href != want || started.TraceID == "" {
		t.Errorf("trace link %q, want %q", href, want)
	} else if resp, err := http.Get(href); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the Jaeger UI at %s: %v %v", href, err, resp)
	} else {
		resp.Body.Close()
	}
	b.screenshot("instance")

	// A device acknowledges its download from the UI, and completes.
	dev1, dev2 := batch+":device-0001", batch+":device-0002"
	openChild := func(id string) {
		t.Helper()
		b.run("opening "+id, 20*time.Second, chromedp.Navigate(f.URL+"/ui/instances/"+batch),
			chromedp.Click(chromedp.CSS(`li[data-child="`+id+`"] a.child-link`)),
			chromedp.WaitVisible(chromedp.CSS(`#instance-id`)))
		b.waitTextIs(`#instance-id`, id, 10*time.Second)
		// Waiting for the event: the timeout's timer is in the timeline.
		b.waitTextHas(`#history`, "Waiting", 60*time.Second)
	}
	openChild(dev1)
	if got := b.text(`#parent-link`); got != batch {
		t.Errorf("parent link %q, want %q", got, batch)
	}
	b.run("raising DownloadCompletedAck", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#raise-event`), "DownloadCompletedAck"),
		chromedp.SendKeys(chromedp.CSS(`#raise-data`), "true"),
		chromedp.Click(chromedp.CSS(`#raise`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)))
	b.screenshot("confirm")
	b.run("confirming", 20*time.Second, chromedp.Click(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	b.waitTextIs(`#status`, "Completed", 60*time.Second)
	b.waitTextHas(`#history`, "DownloadCompletedAck", 10*time.Second)

	// Event data that is not JSON: the error in place, the device still waits.
	openChild(dev2)
	b.run("raising with a bad body", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#raise-event`), "DownloadCompletedAck"),
		chromedp.SendKeys(chromedp.CSS(`#raise-data`), "{not json"),
		chromedp.Click(chromedp.CSS(`#raise`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`#action-error`)))
	if got := b.text(`#action-error`); !strings.Contains(got, "not valid JSON") {
		t.Errorf("the error shown is %q", got)
	}
	if got := b.text(`#raise-data`); got != "{not json" {
		t.Errorf("the form lost what was typed: %q", got)
	}
	b.screenshot("bad-event")
	if got := b.text(`#status`); got != "Running" {
		t.Errorf("after a refused event the device is %q", got)
	}

	// The workers page shows the three workers and their partitions.
	b.run("opening the workers", 20*time.Second, chromedp.Navigate(f.URL+"/ui/workers"), chromedp.WaitVisible(chromedp.CSS(`#worker-count`)))
	b.waitTextIs(`#worker-count`, "3", 20*time.Second)
	parts := eval[[]string](b, "reading the partitions",
		`Array.from(document.querySelectorAll('td.partitions')).map(td => td.textContent)`)
	total := 0
	for _, p := range parts {
		var n int
		if _, err := fmtSscan(p, &n); err == nil {
			total += n
		}
	}
	if total != f.Partitions {
		t.Errorf("the workers own %d partitions in all (%v), want %d", total, parts, f.Partitions)
	}
	if c := b.text(`td.concurrency`); c != "16" {
		t.Errorf("a worker's activity concurrency shows as %q, want the default 16", c)
	}
	b.screenshot("workers")

	// The queues page: the four devices still waiting hold a timer each on the ladder (their
	// acknowledgement's timeout).
	b.run("opening the queues", 20*time.Second, chromedp.Navigate(f.URL+"/ui/queues"), chromedp.WaitVisible(chromedp.CSS(`#timer-total`)))
	b.waitText(`#timer-total`, "at least 4", 20*time.Second, func(got string) bool {
		n, err := strconv.Atoi(got)
		return err == nil && n >= 4
	})
	if got := b.text(`tr[data-role="workitems"] td.depth`); got == "" || got == "missing" {
		t.Errorf("the work-item queue's depth shows as %q", got)
	}
	b.screenshot("queues")

	// A message no worker can read, published straight into a control queue: the worker
	// dead-letters it, the dispatcher keeps it, the queues page and `client deadletters`
	// list it; redriven from the UI it goes back to its queue and is dead-lettered again.
	poisonID := testenv.UniqueName("poison-ui")
	publishRaw(t, queues.ControlQueue(f.Hub, 0), amqp.Publishing{MessageId: poisonID, Type: "ExecutionStarted",
		Body: []byte("{not json"), DeliveryMode: amqp.Persistent, Headers: amqp.Table{"x-instance-id": "poison-target"}})
	row := `tr[data-message="` + poisonID + `"]`
	b.run("waiting for the dead letter", 60*time.Second, chromedp.Navigate(f.URL+"/ui/queues"), chromedp.WaitVisible(chromedp.CSS(row)))
	if reason := b.text(row + ` td.reason`); reason == "" {
		t.Error("the dead letter shows no reason")
	}
	var listed []struct{ ID, MessageID, SourceQueue string }
	if err := json.Unmarshal([]byte(f.MustClient("deadletters", "--json")), &listed); err != nil || len(listed) != 1 ||
		listed[0].MessageID != poisonID || listed[0].SourceQueue != queues.ControlQueue(f.Hub, 0) {
		t.Errorf("client deadletters --json: %+v (%v)", listed, err)
	}
	b.screenshot("deadletters")
	firstDeath := b.text(row + ` td:first-child`)
	b.run("redriving", 20*time.Second, chromedp.Click(chromedp.CSS(row+` button.redrive`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`#redriven`)))
	b.waitText(row+` td:first-child`, "a second death after "+firstDeath, 60*time.Second, func(got string) bool {
		return got != "" && got != firstDeath
	})

	// Terminate the batch with its children: the four devices still waiting end with it,
	// the acknowledged one stays Completed.
	b.run("opening the parent", 20*time.Second, chromedp.Navigate(f.URL+"/ui/instances/"+batch), chromedp.WaitVisible(chromedp.CSS(`#terminate`)))
	b.run("terminating", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#terminate-reason`), "batch withdrawn"),
		chromedp.Click(chromedp.CSS(`#terminate`)), chromedp.WaitVisible(chromedp.CSS(`#confirm`)))
	if q := b.text(`#question`); !strings.Contains(q, "terminate "+batch) || !strings.Contains(b.text(`dl.confirm`), "terminated too") {
		t.Errorf("the confirmation asks %q (%q)", q, b.text(`dl.confirm`))
	}
	b.run("confirming", 20*time.Second, chromedp.Click(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	b.waitTextIs(`#status`, "Terminated", 60*time.Second)
	b.waitTextHas(`#history`, "batch withdrawn", 10*time.Second)
	b.waitTextIs(`#children a.status.terminated b`, "4", 60*time.Second)
	b.waitTextIs(`#children a.status.completed b`, "1", 10*time.Second)
	b.screenshot("terminated")
}

// publishRaw publishes one message straight into a queue of the broker, confirmed.
func publishRaw(t *testing.T, queue string, p amqp.Publishing) {
	t.Helper()
	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := conf.WaitContext(ctx); err != nil || !ok {
		t.Fatalf("publishing to %s: confirmed %v, %v", queue, ok, err)
	}
}
