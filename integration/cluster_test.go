package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// A fleet on a three-node RabbitMQ cluster (scripts/cluster.sh) keeps going when nodes die
// under it: hello sequences and the seed scenario run while a node is killed with SIGKILL
// (the long version: killed, started again, then another killed). Nothing is lost, no
// result is applied twice, and the dispatcher and the workers reconnect to a live node by
// themselves, without a process exiting.
func TestClusterNodeKilledMidRun(t *testing.T) {
	plan := clusterPlan{hellos: 100, devices: 5, rate: 10, kills: []int{1}}
	if os.Getenv("WARREN_CHAOS_LONG") != "" {
		// Fed slowly enough (about 80 s) that the second kill, after node 1's restart
		// (30 s and more on a busy machine), still comes while starts are being fed.
		plan = clusterPlan{hellos: 500, devices: 20, rate: 6, kills: []int{1, 2}}
	}
	cl := startCluster(t)
	// Dead letters stay in their queue, which the test counts at the end.
	f := fleettest.Start(t, fleettest.Options{Workers: 3, Env: []string{"WARREN_AMQP_URL=" + cl.urls, "WARREN_LEAVE_DEAD_LETTERS=true"}})
	c := client.New(f.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// Every queue of the hub but the dispatcher's announce queue (a classic queue of its
	// own, declared again wherever it reconnects) is a quorum queue with a member on each node.
	durable := 0
	for _, q := range cl.hubQueues(f.Hub) {
		if strings.Contains(q.Name, ".announce.") {
			continue
		}
		durable++
		if q.Type != "quorum" || len(q.Members) != 3 {
			t.Fatalf("queue %s: type %s, members %v; want a quorum queue on all 3 nodes", q.Name, q.Type, q.Members)
		}
	}
	if want := f.Partitions + 2 + 18; durable != want { // control, work items, dead letters, timer levels
		t.Fatalf("hub %s has %d quorum queues on the cluster, want %d", f.Hub, durable, want)
	}
	conns := cl.fleetConnections()
	t.Logf("fleet connections before the kills: %v", conns)

	seed := testenv.UniqueName("batch")
	mustStart(ctx, t, c, seed, "ProvisionNewDevices", fmt.Sprintf(`{"devices": %d}`, plan.devices))
	raised := raiseWhenWaiting(ctx, t, c, seed, plan.devices)

	feed := startFeeding(ctx, c, testenv.UniqueName("hello"), plan.hellos, plan.rate)
	t0 := time.Now()
	for i, node := range plan.kills {
		// Each kill comes while starts are still being fed and instances are in flight.
		fleettest.WaitUntil(t, time.Minute, "starts to reach the kill point", func() bool {
			return feed.accepted.Load() >= int64(plan.hellos*(i+1)/(len(plan.kills)+2))
		})
		if i > 0 {
			// The node killed before is back first, so that a majority of every queue's
			// members lives through this kill.
			restarted := time.Now()
			cl.run("start", fmt.Sprint(plan.kills[i-1]))
			cl.waitAllOnline(t, f.Hub)
			t.Logf("FIGURE: cluster: node %d started again and every quorum queue back to 3 online members in %.1f s",
				plan.kills[i-1], time.Since(restarted).Seconds())
		}
		inFlight := feed.accepted.Load()
		killed := time.Now()
		cl.run("kill", fmt.Sprint(node))
		probe := fmt.Sprintf("%s-probe-%d", testenv.UniqueName("hello"), node)
		mustStart(ctx, t, c, probe, "HelloSequence", fmt.Sprintf("%q", probe))
		waitCompleted(ctx, t, c, probe, 2*time.Minute)
		t.Logf("FIGURE: cluster: node %d killed with SIGKILL after %d of %d hello starts; a hello sequence started after the kill completed %.2f s after it (%d starts refused so far, retried)",
			node, inFlight, plan.hellos, time.Since(killed).Seconds(), feed.refused.Load())
		// Every process of the fleet is connected again, each to a node that lives, and the
		// dispatcher listens for announcements again (its listener queue declared anew if it
		// lived on the dead node).
		fleettest.WaitUntil(t, time.Minute, "the fleet's connections back on live nodes, the dispatcher listening", func() bool {
			now := cl.fleetConnections()
			if now["warren-dispatcher"] < conns["warren-dispatcher"] || now["warren-worker"] < conns["warren-worker"] {
				return false
			}
			for _, q := range cl.hubQueues(f.Hub) {
				if strings.Contains(q.Name, ".announce.") && q.Consumers > 0 {
					return true
				}
			}
			return false
		})
	}
	ids := feed.wait(t)

	// 0 lost: every start the dispatcher accepted ends Completed.
	fleettest.WaitUntil(t, 3*time.Minute, "every hello sequence ended", func() bool {
		sts, err := c.ListAll(ctx, client.ListOptions{Name: "HelloSequence"})
		if err != nil {
			return false
		}
		ended := 0
		for _, st := range sts {
			if st.Status.Terminal() {
				ended++
			}
		}
		return ended >= len(ids)+len(plan.kills)
	})
	t.Logf("FIGURE: cluster: %d hello sequences and %d devices ran through %d node kill(s) in %.1f s",
		plan.hellos, plan.devices, len(plan.kills), time.Since(t0).Seconds())
	// The checks get their own time, not what the run left of its six minutes.
	cctx, ccancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer ccancel()
	twice := checkHellos(cctx, t, f.Hub, ids)
	checkSeed(cctx, t, c, seed, plan.devices, raised)

	for _, w := range f.Workers() {
		if w.Exited() {
			t.Errorf("%s exited; it should have reconnected", w.Name)
		}
	}
	if n := f.LiveWorkers(); n != 3 {
		t.Errorf("%d live workers at the end, want 3", n)
	}
	if _, err := c.Workers(cctx); err != nil {
		t.Errorf("the dispatcher does not answer at the end: %v", err)
	}
	dead := 0
	for _, q := range cl.hubQueues(f.Hub) {
		if strings.HasSuffix(q.Name, ".deadletter") {
			dead = int(q.Messages)
		}
	}
	if dead != 0 {
		t.Errorf("%d messages dead-lettered", dead)
	}
	t.Logf("FIGURE: cluster: lost 0, results applied twice %d, dead letters %d, starts refused during the outages and retried %d",
		twice, dead, feed.refused.Load())
}

type clusterPlan struct {
	hellos, devices int
	rate            float64 // hello starts per second
	kills           []int   // nodes killed in turn (each started again before the next kill)
}

// rabbitCluster is the cluster of scripts/cluster.sh, brought up for one test.
type rabbitCluster struct {
	t      *testing.T
	script string
	urls   string
}

// startCluster brings the cluster up and tears it down when the test ends (or the test
// binary is interrupted). Without rabbitmq-server it skips, or fails under CI.
func startCluster(t *testing.T) *rabbitCluster {
	t.Helper()
	bin := os.Getenv("WARREN_RABBITMQ_BIN") // as scripts/cluster.sh reads it
	if bin == "" {
		bin = "/usr/lib/rabbitmq/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "rabbitmq-server")); err != nil {
		msg := "rabbitmq-server is not installed (apt-get install rabbitmq-server): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	testenv.RequireMongo(t)
	script, err := filepath.Abs("../scripts/cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	cl := &rabbitCluster{t: t, script: script}
	down := func() {
		if out, err := exec.Command(script, "down").CombinedOutput(); err != nil {
			t.Logf("cluster.sh down: %v\n%s", err, out)
		}
	}
	keep := testenv.OnInterrupt(down)
	t.Cleanup(func() { keep(); down() })
	start := time.Now()
	// The fleet's binaries build while the nodes boot.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, script, "up")
	var stdout, stderr strings.Builder
	up.Stdout, up.Stderr = &stdout, &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	fleettest.Binaries(t)
	if err := up.Wait(); err != nil {
		t.Fatalf("cluster.sh up: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	cl.urls = lines[len(lines)-1]
	if strings.Count(cl.urls, "amqp://") != 3 {
		t.Fatalf("cluster.sh up printed %q, want three AMQP URLs last", out)
	}
	t.Logf("FIGURE: cluster: 3 nodes started and joined in %.1f s", time.Since(start).Seconds())
	return cl
}

// run runs cluster.sh with args and returns its standard output; the test fails when the
// script does.
func (cl *rabbitCluster) run(args ...string) string {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cl.script, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		cl.t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

type clusterQueue struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Members   nodeNames `json:"members"`
	Online    nodeNames `json:"online"`
	Messages  msgCount  `json:"messages"`
	Consumers msgCount  `json:"consumers"`
}

// msgCount is a count rabbitmqctl prints as "" for a queue it cannot ask (its node is down).
type msgCount int

func (c *msgCount) UnmarshalJSON(b []byte) error {
	if string(b) == `""` {
		*c = 0
		return nil
	}
	return json.Unmarshal(b, (*int)(c))
}

// nodeNames is a quorum queue's list of nodes; rabbitmqctl prints "" for a classic queue.
type nodeNames []string

func (n *nodeNames) UnmarshalJSON(b []byte) error {
	if string(b) == `""` {
		*n = nil
		return nil
	}
	return json.Unmarshal(b, (*[]string)(n))
}

// hubQueues lists the hub's queues as the cluster sees them.
func (cl *rabbitCluster) hubQueues(hub string) []clusterQueue {
	cl.t.Helper()
	out := cl.run("ctl", "list_queues", "name", "type", "members", "online", "messages", "consumers", "--formatter", "json", "-q")
	var all []clusterQueue
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		cl.t.Fatalf("rabbitmqctl list_queues printed %q: %v", out, err)
	}
	var mine []clusterQueue
	for _, q := range all {
		if strings.HasPrefix(q.Name, hub+".") {
			mine = append(mine, q)
		}
	}
	return mine
}

// waitAllOnline waits until every quorum queue of the hub has its 3 members online.
func (cl *rabbitCluster) waitAllOnline(t *testing.T, hub string) {
	t.Helper()
	fleettest.WaitUntil(t, 2*time.Minute, "every quorum queue with 3 online members", func() bool {
		for _, q := range cl.hubQueues(hub) {
			if q.Type == "quorum" && len(q.Online) != 3 {
				return false
			}
		}
		return true
	})
}

// fleetConnections counts the connections on the cluster by connection name (the
// binaries name theirs warren-dispatcher and warren-worker).
func (cl *rabbitCluster) fleetConnections() map[string]int {
	cl.t.Helper()
	out := cl.run("ctl", "list_connections", "client_properties", "--formatter", "json", "-q")
	var conns []struct {
		Props [][]any `json:"client_properties"`
	}
	if err := json.Unmarshal([]byte(out), &conns); err != nil {
		cl.t.Fatalf("rabbitmqctl list_connections printed %q: %v", out, err)
	}
	n := map[string]int{}
	for _, c := range conns {
		for _, p := range c.Props {
			if len(p) == 3 && p[0] == "connection_name" {
				n[fmt.Sprint(p[2])]++
			}
		}
	}
	return n
}

// feeding starts hello sequences at a steady rate in the background, retrying each start
// (same id) until the dispatcher accepts it, as a client that must not lose one would.
type feeding struct {
	accepted, refused atomic.Int64
	ids               []string
	done              chan error
}

func startFeeding(ctx context.Context, c *client.Client, prefix string, n int, rate float64) *feeding {
	fd := &feeding{done: make(chan error, 1)}
	for i := range n {
		fd.ids = append(fd.ids, fmt.Sprintf("%s-%04d", prefix, i))
	}
	go func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for _, id := range fd.ids {
			<-tick.C
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := startRetrying(ctx, c, id, "HelloSequence", fmt.Sprintf("%q", id), &fd.refused)
				if err == nil {
					fd.accepted.Add(1)
					return
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		fd.done <- firstErr
	}()
	return fd
}

func (fd *feeding) wait(t *testing.T) []string {
	t.Helper()
	if err := <-fd.done; err != nil {
		t.Fatalf("feeding hello sequences: %v", err)
	}
	return fd.ids
}

// startRetrying starts an instance, asking again every 200 ms while the dispatcher answers
// an error (503 while the broker is away, or a lost answer); a conflict means an earlier
// attempt took effect.
func startRetrying(ctx context.Context, c *client.Client, id, name, input string, refused *atomic.Int64) error {
	for {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.Start(actx, name, json.RawMessage(input), client.WithInstanceID(id))
		cancel()
		var ae *client.APIError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ae) && ae.Code == api.CodeConflict:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("starting %s: %w (last error: %v)", id, ctx.Err(), err)
		}
		if refused != nil {
			refused.Add(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustStart(ctx context.Context, t *testing.T, c *client.Client, id, name, input string) {
	t.Helper()
	if err := startRetrying(ctx, c, id, name, input, nil); err != nil {
		t.Fatal(err)
	}
}

func waitCompleted(ctx context.Context, t *testing.T, c *client.Client, id string, timeout time.Duration) {
	t.Helper()
	var st *api.Status
	fleettest.WaitUntil(t, timeout, id+" to complete", func() bool {
		var err error
		st, err = c.Status(ctx, id)
		return err == nil && st.Status.Terminal()
	})
	if st.Status != history.StatusCompleted {
		t.Fatalf("%s ended %s: %v", id, st.Status, st.Failure)
	}
}

// raiseWhenWaiting acknowledges every device of the seed batch once its child orchestration
// exists, in the background, retrying a raise that fails; the map it fills (once the
// returned function is called) says which raises were retried, since a retried raise whose
// first attempt took effect is delivered twice.
func raiseWhenWaiting(ctx context.Context, t *testing.T, c *client.Client, seed string, devices int) func() map[string]bool {
	done := make(chan map[string]bool, 1)
	go func() {
		retried := map[string]bool{}
		pending := map[string]bool{}
		for i := range devices {
			pending[fmt.Sprintf("%s:device-%04d", seed, i+1)] = true
		}
		for len(pending) > 0 && ctx.Err() == nil {
			for id := range pending {
				st, err := c.Status(ctx, id)
				if err != nil || st.Status != history.StatusRunning {
					continue
				}
				for ctx.Err() == nil {
					if err := c.Raise(ctx, id, "DownloadCompletedAck", true); err == nil {
						break
					}
					retried[id] = true
					time.Sleep(200 * time.Millisecond)
				}
				delete(pending, id)
			}
			time.Sleep(200 * time.Millisecond)
		}
		done <- retried
	}()
	return func() map[string]bool {
		select {
		case r := <-done: // done first, even when ctx has ended since
			return r
		default:
		}
		select {
		case r := <-done:
			return r
		case <-ctx.Done():
			t.Fatalf("raising the devices' acknowledgements: %v", ctx.Err())
			return nil
		}
	}
}

// checkHellos asserts, from the stored histories, that every hello sequence completed with
// its five results, each recorded once, and returns how many results were recorded twice.
func checkHellos(ctx context.Context, t *testing.T, hub string, ids []string) int {
	t.Helper()
	twice := 0
	for id, h := range storedHistories(ctx, t, hub, ids) {
		if st := endedAs(h); st != history.StatusCompleted {
			t.Errorf("%s ended %q by its history, want Completed", id, st)
			continue
		}
		problems, n := helloResults(id, h)
		for _, p := range problems {
			t.Error(p)
		}
		twice += n
	}
	return twice
}

// checkSeed asserts that the seed batch completed with every device provisioned, each
// device's activities scheduled and completed once.
func checkSeed(ctx context.Context, t *testing.T, c *client.Client, seed string, devices int, raised func() map[string]bool) {
	t.Helper()
	retried := raised()
	st, err := c.Wait(ctx, seed, 2*time.Minute)
	if err != nil || st.Status != history.StatusCompleted {
		t.Fatalf("seed batch %s: %v, %+v", seed, err, st)
	}
	if got, want := compact(t, st.Output), fmt.Sprintf(`{"provisioned":%d}`, devices); got != want {
		t.Fatalf("seed output = %s, want %s", got, want)
	}
	for i := range devices {
		id := fmt.Sprintf("%s:device-%04d", seed, i+1)
		h, err := historyOf(ctx, c, id)
		if err != nil || h.Status.Status != history.StatusCompleted {
			t.Fatalf("device %s: %v, %+v", id, err, h)
		}
		for _, name := range []string{"CreateInstallationPackage", "SendPackageUrlToDevice"} {
			if n := count(h.History, history.TaskScheduled, name); n != 1 {
				t.Errorf("device %s: %d × %s scheduled, want 1", id, n, name)
			}
		}
		if n := count(h.History, history.TaskCompleted, ""); n != 2 {
			t.Errorf("device %s: %d activity results, want 2", id, n)
		}
		if n := count(h.History, history.EventRaised, "DownloadCompletedAck"); n != 1 && !(retried[id] && n == 2) {
			t.Errorf("device %s: %d acknowledgements recorded (raise retried: %v)", id, n, retried[id])
		}
	}
}
