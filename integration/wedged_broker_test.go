package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/startup"
	"github.com/warrenhq/warren/internal/testenv"
)

// A broker that accepts TCP connections and never answers the AMQP handshake (RabbitMQ 3.10
// does so when it runs out of file handles) stands between the fleet and the real broker:
// the dispatcher and the workers start anyway and wait; the dispatcher's /readyz answers 503
// with the reason, in a fixed phrase, and the workers' log says it; SIGTERM stops a waiting
// worker within 5 s; once the broker answers, the fleet becomes ready and runs a
// HelloSequence. WARREN_CHAOS_LONG=1 then drops every connection and wedges the broker again
// under 100 HelloSequences, for 10 s, and checks that all complete, each result applied once.
func TestWedgedBroker(t *testing.T) {
	long := os.Getenv("WARREN_CHAOS_LONG") == "1"
	testenv.RequireRabbitMQ(t)
	proxy := newWedgeProxy(t, wedgeBrokerHostPort(t))
	brokerURL := proxy.url(t)
	password := ""
	if u, err := url.Parse(brokerURL); err == nil {
		password, _ = u.User.Password()
	}
	f := fleettest.Start(t, fleettest.Options{Workers: 2, Partitions: 4, Unready: true,
		Env: []string{"WARREN_AMQP_URL=" + brokerURL}})

	// While the broker is wedged: 503 from /readyz with the reason, and nothing that names
	// a host or a password.
	var body string
	fleettest.WaitUntil(t, 20*time.Second, "/readyz to name the wedged broker", func() bool {
		var code int
		code, body = wedgeGet(f.URL + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, startup.ReasonBrokerNoHandshake)
	})
	if strings.Contains(body, "127.0.0.1") || strings.Contains(body, proxy.port()) || (password != "" && strings.Contains(body, password)) {
		t.Fatalf("/readyz names a host or a password: %s", body)
	}
	if code, b := wedgeGet(f.URL + "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while waiting: %d %s", code, b)
	}
	if code, b := wedgeGet(f.URL + "/v1/workers"); code != http.StatusServiceUnavailable || !strings.Contains(b, api.CodeUnavailable) {
		t.Fatalf("the API while waiting: %d %s", code, b)
	}
	fleettest.WaitUntil(t, 20*time.Second, "the workers' log to say why they wait", func() bool {
		return strings.Contains(f.Logs("worker-1"), startup.ReasonBrokerNoHandshake)
	})
	for _, p := range f.Workers() {
		if logs := f.Logs(p.Name); password != "" && strings.Contains(logs, ":"+password+"@") {
			t.Fatalf("%s logs the broker password:\n%s", p.Name, logs)
		}
	}

	// SIGTERM stops a waiting worker promptly, with exit 0.
	waiting := f.Workers()[1]
	began := time.Now()
	if err := waiting.Stop(5 * time.Second); err != nil {
		t.Fatalf("a waiting worker and SIGTERM: %v\n%s", err, f.Logs(waiting.Name))
	}
	stopped := time.Since(began)

	// The broker answers: the fleet becomes ready by itself and runs an orchestration.
	proxy.unwedge()
	answered := time.Now()
	fleettest.WaitUntil(t, 60*time.Second, "the dispatcher ready after the broker answered", func() bool {
		code, _ := wedgeGet(f.URL + "/readyz")
		return code == http.StatusOK
	})
	ready := time.Since(answered)
	fleettest.WaitUntil(t, 60*time.Second, "the worker joined after the broker answered", func() bool {
		return f.LiveWorkers() >= 1
	})
	joined := time.Since(answered)
	c := client.New(f.URL)
	first := testenv.UniqueName("wedge-first")
	wedgeRunHellos(t, c, []string{first}, time.Minute)
	t.Logf("FIGURE: wedged broker: a waiting worker stopped %.2fs after SIGTERM; once the broker answered, the dispatcher was ready after %.2fs, the worker joined after %.2fs, a HelloSequence completed after %.2fs",
		stopped.Seconds(), ready.Seconds(), joined.Seconds(), time.Since(answered).Seconds())
	if !long {
		return
	}

	// Long: the broker drops every connection and is wedged for 10 s under a run.
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", testenv.UniqueName("wedge"), i)
	}
	wedgeStartAll(t, c, ids)
	proxy.wedge()
	fleettest.WaitUntil(t, 30*time.Second, "/readyz to say the broker does not answer", func() bool {
		code, _ := wedgeGet(f.URL + "/readyz")
		return code == http.StatusServiceUnavailable
	})
	time.Sleep(10 * time.Second) // the length of the fault, not a synchronization
	proxy.unwedge()
	answered = time.Now()
	fleettest.WaitUntil(t, 90*time.Second, "the dispatcher ready after the second wedge", func() bool {
		code, _ := wedgeGet(f.URL + "/readyz")
		return code == http.StatusOK
	})
	ready = time.Since(answered)
	twice := wedgeCheckHellos(t, c, ids, 3*time.Minute)
	t.Logf("FIGURE: wedged broker mid-run (every connection dropped, new ones unanswered for 10 s) under %d HelloSequences: dispatcher ready %.2fs and all completed %.2fs after the broker answered again; 0 lost, results applied twice %d",
		len(ids), ready.Seconds(), time.Since(answered).Seconds(), twice)
}

// wedgeRunHellos starts HelloSequences with the given ids and checks them to their end.
func wedgeRunHellos(t *testing.T, c *client.Client, ids []string, timeout time.Duration) {
	t.Helper()
	wedgeStartAll(t, c, ids)
	if twice := wedgeCheckHellos(t, c, ids, timeout); twice != 0 {
		t.Fatalf("%d results applied twice", twice)
	}
}

// wedgeStartAll starts a HelloSequence per id, 8 at a time, retrying a start the dispatcher
// refuses as unavailable.
func wedgeStartAll(t *testing.T, c *client.Client, ids []string) {
	t.Helper()
	errs := make(chan error, len(ids))
	eachOf(ids, func(id string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for {
			_, err := c.Start(ctx, "HelloSequence", id, client.WithInstanceID(id))
			if err == nil || ctx.Err() != nil {
				if err != nil {
					errs <- fmt.Errorf("starting %s: %w", id, err)
				}
				return
			}
			time.Sleep(500 * time.Millisecond) // a refused start is tried again, as a client would
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// wedgeCheckHellos waits for each HelloSequence to end and asserts that it completed with
// its five results, each applied once; it returns how many results were applied twice.
func wedgeCheckHellos(t *testing.T, c *client.Client, ids []string, timeout time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	twice := 0
	eachOf(ids, func(id string) {
		var st *api.Status
		for {
			var err error
			st, err = c.Wait(ctx, id, 20*time.Second)
			if err == nil && st.Status.Terminal() {
				break
			}
			if ctx.Err() != nil {
				t.Errorf("%s did not end within %s (last: %v)", id, timeout, err)
				return
			}
			time.Sleep(200 * time.Millisecond) // a wait cut short is asked again
		}
		h, err := historyOf(ctx, c, id)
		if err != nil {
			t.Errorf("history of %s: %v", id, err)
			return
		}
		// The status comes from the wait: the instance's document may lag its history.
		if st.Status != history.StatusCompleted {
			t.Errorf("%s ended %s: %v", id, st.Status, st.Failure)
			return
		}
		if n := count(h.History, history.ExecutionCompleted, ""); n != 1 {
			t.Errorf("%s: %d ExecutionCompleted events in its history, want 1", id, n)
		}
		var out string
		want := strings.TrimSuffix(strings.Repeat("Hello, "+id+"! ", 5), " ")
		if json.Unmarshal(st.Output, &out) != nil || out != want {
			t.Errorf("%s: output %s, want %q", id, st.Output, want)
		}
		problems, n := helloResults(id, h.History)
		for _, p := range problems {
			t.Error(p)
		}
		mu.Lock()
		twice += n
		mu.Unlock()
	})
	return twice
}

// wedgeGet returns the status code and body of a GET, or 0 when nothing answered.
func wedgeGet(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wedgeBrokerHostPort is the host:port of the test broker (the first node of a list).
func wedgeBrokerHostPort(t *testing.T) string {
	u, err := url.Parse(strings.Split(testenv.AMQPURL(), ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// wedgeProxy stands for a broker that can wedge: while wedged it accepts connections and
// says nothing (and wedge drops the connections it forwarded); otherwise it forwards each
// new connection to the real broker. It starts wedged.
type wedgeProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	wedged bool
	conns  map[net.Conn]bool
}

func newWedgeProxy(t *testing.T, target string) *wedgeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wedgeProxy{ln: ln, target: target, wedged: true, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.wedge()
	})
	return p
}

// url is the test broker's URL with the proxy in its place.
func (p *wedgeProxy) url(t *testing.T) string {
	u, err := url.Parse(strings.Split(testenv.AMQPURL(), ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *wedgeProxy) port() string {
	return fmt.Sprint(p.ln.Addr().(*net.TCPAddr).Port)
}

// wedge drops every connection and leaves new ones unanswered.
func (p *wedgeProxy) wedge() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wedged = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// unwedge forwards new connections; those accepted while wedged stay silent, as a broker's
// would, until their client gives up on them.
func (p *wedgeProxy) unwedge() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wedged = false
}

func (p *wedgeProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = true
	return p.wedged
}

func (p *wedgeProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.track(c) {
			go func() { _, _ = io.Copy(io.Discard, c) }()
			continue
		}
		go p.forward(c)
	}
}

func (p *wedgeProxy) forward(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if p.track(up) {
		return // wedged meanwhile
	}
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
}
