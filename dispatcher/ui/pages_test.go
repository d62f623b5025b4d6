package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
)

func at(d time.Duration) time.Time { return time.Now().UTC().Truncate(time.Millisecond).Add(d) }

func TestInstancesPageCountsFiltersAndPages(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("batch-1", "ProvisionNewDevices", history.StatusRunning, "")
	r.seed("batch-1:device-0001", "DeviceProvisioningOrchestration", history.StatusCompleted, "batch-1")
	r.seed("batch-1:device-0002", "DeviceProvisioningOrchestration", history.StatusRunning, "batch-1")
	r.seed("hello-1", "HelloSequence", history.StatusFailed, "")

	p := r.get("/ui/")
	if p.status != http.StatusOK || p.url != "/ui/instances" {
		t.Fatalf("/ui/ answered %d at %s", p.status, p.url)
	}
	p.mustContain(t, `All <b>4</b>`, `Running <b>2</b>`, `Completed <b>1</b>`, `Failed <b>1</b>`,
		`href="/ui/instances/batch-1:device-0002"`, `href="/ui/instances/hello-1"`)

	p = r.get("/ui/instances?status=Running")
	p.mustContain(t, `/ui/instances/batch-1:device-0002"`, `/ui/instances/batch-1"`)
	p.mustNotContain(t, `/ui/instances/hello-1"`, `/ui/instances/batch-1:device-0001"`)

	p = r.get("/ui/instances?parent=batch-1")
	p.mustContain(t, `All <b>2</b>`, `/ui/instances/batch-1:device-0001"`)
	p.mustNotContain(t, `/ui/instances/hello-1"`)

	p = r.get("/ui/instances?name=HelloSequence")
	p.mustContain(t, `/ui/instances/hello-1"`, `All <b>1</b>`)
	p.mustNotContain(t, `/ui/instances/batch-1"`)

	p = r.get("/ui/instances?createdFrom=" + url.QueryEscape(at(time.Hour).Format(time.RFC3339)))
	p.mustContain(t, `No instance matches.`)

	// Two to a page: three pages, linked by cursors.
	seen := map[string]bool{}
	path := "/ui/instances?pageSize=2"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("more pages than instances")
		}
		p = r.get(path)
		for _, id := range []string{"batch-1", "batch-1:device-0001", "batch-1:device-0002", "hello-1"} {
			if strings.Contains(p.body, `class="instance-link" href="/ui/instances/`+id+`"`) {
				seen[id] = true
			}
		}
		path = ""
		if i := strings.Index(p.body, `id="next-page" href="`); i >= 0 {
			rest := p.body[i+len(`id="next-page" href="`):]
			path = "/ui/instances" + strings.ReplaceAll(rest[:strings.IndexByte(rest, '"')], "&amp;", "&")
		}
	}
	if len(seen) != 4 {
		t.Errorf("paging showed %v, want all 4", seen)
	}
}

func TestInstancesPageShowsBadFiltersInPlace(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	for _, c := range []struct{ query, want string }{
		{"createdFrom=yesterday", `created from &#34;yesterday&#34; is not a time`},
		{"status=Sleeping", `unknown status &#34;Sleeping&#34;`},                         // the API's words
		{"parent=" + url.QueryEscape("a b"), `invalid instance id &#34;a b&#34;`},        // the API's words
		{"pageSize=5000", `pageSize &#34;5000&#34;: want a whole number from 1 to 1000`}, // the API's words
	} {
		p := r.get("/ui/instances?" + c.query)
		if p.status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", c.query, p.status)
		}
		p.mustContain(t, `id="list-error"`, c.want)
	}
}

func TestInstancePageShowsFieldsTimelineChildrenAndTrace(t *testing.T) {
	r := newRig(t, dispatcher.Config{JaegerUI: "http://jaeger.example:16686/"})
	t0 := at(0)
	parent := r.seed("batch-7", "ProvisionNewDevices", history.StatusRunning, "",
		history.Event{Version: 1, Kind: history.TaskScheduled, Timestamp: t0.Add(10 * time.Millisecond), TaskID: 1, Name: "GetNewDeviceIds", Attempt: 1},
		history.Event{Version: 1, Kind: history.TaskCompleted, Timestamp: t0.Add(260 * time.Millisecond), TaskID: 1, Result: []byte(`["device-0001"]`)},
		history.Event{Version: 1, Kind: history.SubOrchestrationCreated, Timestamp: t0.Add(300 * time.Millisecond), TaskID: 2,
			Name: "DeviceProvisioningOrchestration", InstanceID: "batch-7:device-0001", Attempt: 2},
		history.Event{Version: 1, Kind: history.TimerCreated, Timestamp: t0.Add(310 * time.Millisecond), TaskID: 3, FireAt: t0.Add(time.Hour)},
		history.Event{Version: 1, Kind: history.PatchMarker, Timestamp: t0.Add(320 * time.Millisecond), Name: "v2-retries"},
		history.Event{Version: 1, Kind: "FromANewerSDK", Timestamp: t0.Add(330 * time.Millisecond), Name: "n"},
	)
	ctx := context.Background()
	parent.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	parent.CustomStatus = []byte(`{"phase":"children"}`)
	parent.Failure = nil
	if err := r.store.UpdateInstance(ctx, parent); err != nil {
		t.Fatal(err)
	}
	r.seed("batch-7:device-0001", "DeviceProvisioningOrchestration", history.StatusRunning, "batch-7")
	r.seed("batch-7:device-0002", "DeviceProvisioningOrchestration", history.StatusCompleted, "batch-7")

	p := r.get("/ui/instances/batch-7")
	if p.status != http.StatusOK {
		t.Fatalf("HTTP %d:\n%s", p.status, p.body)
	}
	p.mustContain(t,
		`<h1 id="instance-id">batch-7</h1>`, `id="status" class="status running">Running`,
		`id="trace-link" href="http://jaeger.example:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"`,
		`&#34;devices&#34;: 2`,                                           // the input, from ExecutionStarted
		`&#34;phase&#34;: &#34;children&#34;`,                            // the custom status
		`GetNewDeviceIds`, `<td class="outcome">Completed</td>`, `250ms`, // the activity, its outcome and duration
		`href="/ui/instances/batch-7:device-0001"`, `<td>2</td>`, // the child step with its attempt
		`<td class="outcome">Waiting</td>`,                    // the timer
		`<td>Patch</td>`, `v2-retries`, `Took the new branch`, // a patch marker
		`<td>FromANewerSDK</td>`, // a kind this dashboard does not know still shows
		`All <b id="child-total">2</b>`, `Completed <b>1</b>`,
		`data-child="batch-7:device-0002"`,
	)

	child := r.get("/ui/instances/batch-7:device-0001")
	child.mustContain(t, `id="parent-link" href="/ui/instances/batch-7"`, `No children.`)
	child.mustNotContain(t, `id="trace-link"`) // no trace id

	p = r.get("/ui/instances/batch-7?childStatus=Completed")
	p.mustContain(t, `data-child="batch-7:device-0002"`)
	p.mustNotContain(t, `data-child="batch-7:device-0001"`)

	p = r.get("/ui/instances/nope")
	if p.status != http.StatusNotFound {
		t.Errorf("unknown instance: HTTP %d", p.status)
	}
	p.mustContain(t, `instance &#34;nope&#34; not found`)
}

func TestInstancePageShowsFailureCauseChain(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	inst := r.seed("failed-1", "ProvisionNewDevices", history.StatusFailed, "")
	inst.Failure = &history.Failure{Type: "SubOrchestrationFailed", Message: "child batch:device-0003 failed",
		Cause: &history.Failure{Type: "ActivityFailed", Message: "SendPackageUrlToDevice failed",
			Cause: &history.Failure{Type: "*errors.errorString", Message: "device unreachable", Stack: "main.go:12"}}}
	inst.LastEpisode = 2
	if err := r.store.UpdateInstance(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	p := r.get("/ui/instances/failed-1")
	p.mustContain(t, `id="failure"`, `<b>SubOrchestrationFailed</b>: child batch:device-0003 failed`,
		`<b>ActivityFailed</b>: SendPackageUrlToDevice failed`, `<b>*errors.errorString</b>: device unreachable`, `main.go:12`)
	if a, b := strings.Index(p.body, "SubOrchestrationFailed"), strings.Index(p.body, "device unreachable"); a > b {
		t.Error("the causes are not outermost first")
	}
}

// An instance id, event name, custom status or output holding HTML shows as text.
func TestOutputIsEscaped(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	const evil = `<script>alert(1)</script>`
	inst := r.seed("xss-1", "Evil<b>Name", history.StatusRunning, "",
		history.Event{Version: 1, Kind: history.EventRaised, Timestamp: at(0), Name: `<img src=x onerror=alert(2)>`, Input: []byte(`"` + `<script>alert(3)</script>` + `"`)})
	inst.CustomStatus = []byte(`"` + evil + `"`)
	inst.LastEpisode = 2
	if err := r.store.UpdateInstance(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	// The store keeps ids the API would refuse (a child named by an orchestrator).
	r.seed(`child-`+evil, "Child", history.StatusRunning, "xss-1")
	for _, path := range []string{"/ui/instances", "/ui/instances/xss-1"} {
		p := r.get(path)
		p.mustNotContain(t, "<script>alert", "<img src=x", "Evil<b>")
		p.mustContain(t, "&lt;script&gt;alert(1)&lt;/script&gt;")
	}
	r.get("/ui/instances/xss-1").mustContain(t, `&lt;img src=x onerror=alert(2)&gt;`, `Evil&lt;b&gt;Name`)
}

func TestWorkersPage(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	ctx := context.Background()
	for _, id := range []string{"worker-a", "worker-b"} {
		if err := r.store.Heartbeat(ctx, history.WorkerInfo{WorkerID: id, Host: "host-" + id, Orchestrators: []string{"HelloSequence"},
			Activities: []string{"SayHello"}, StartedAt: at(-time.Minute), ActivityConcurrency: 24}); err != nil {
			t.Fatal(err)
		}
	}
	p := r.get("/ui/workers")
	p.mustContain(t, `<b id="worker-count">2</b> live workers share <b>4</b> partitions`, `data-worker="worker-a"`,
		`host-worker-b`, `ms ago`, `1 orchestrators, 1 activities`, `<td class="concurrency">24</td>`)
	// The four partitions are shared out: each worker's cell says how many it has.
	if !strings.Contains(p.body, `class="partitions">`) {
		t.Error("no partitions column")
	}
}
