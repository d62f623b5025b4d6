package startup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/internal/hubconn"
	"github.com/warrenhq/warren/internal/testenv"
)

func TestWithinReturnsWhatOpenOpened(t *testing.T) {
	v, err := Within(context.Background(), time.Second, "amqp://u:p@h/", func(context.Context) (int, error) { return 7, nil }, nil)
	if v != 7 || err != nil {
		t.Fatalf("Within = %d, %v", v, err)
	}
	want := errors.New("refused")
	if _, err := Within(context.Background(), time.Second, "amqp://u:p@h/", func(context.Context) (int, error) { return 0, want }, nil); !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// An open that ignores its context (a silent broker's handshake) is given up on after the
// deadline and the grace, with an error naming the setting and the redacted broker, and
// what it opens late is closed.
func TestWithinGivesUpOnASilentBroker(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan int, 1)
	start := time.Now()
	_, err := Within(context.Background(), 100*time.Millisecond, "amqp://u:secret@h/",
		func(context.Context) (int, error) { <-release; return 9, nil },
		func(v int) { closed <- v })
	if err == nil || !strings.Contains(err.Error(), "WARREN_STARTUP_TIMEOUT") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v", err)
	}
	if el := time.Since(start); el > 100*time.Millisecond+Grace+time.Second {
		t.Fatalf("gave up after %s", el)
	}
	close(release)
	select {
	case v := <-closed:
		if v != 9 {
			t.Fatalf("closed %d, want what open returned late", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("what open returned late was not closed")
	}
}

// A cancelled ctx (SIGTERM) ends the wait at once, without the grace.
func TestWithinStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	defer close(block)
	cancel() // the signal came while the binary was starting
	start := time.Now()
	if _, err := Within(ctx, time.Minute, "amqp://h/", func(context.Context) (int, error) { <-block; return 0, nil }, nil); err == nil {
		t.Fatal("no error after ctx ended")
	}
	if el := time.Since(start); el > Grace {
		t.Fatalf("returned %s after ctx ended, want less than the grace", el)
	}
}

// errNotAnswering is what a try of open returns when a service did not answer in time.
var errNotAnswering = fmt.Errorf("opening the store at mongodb://h/: %w", context.DeadlineExceeded)

// A service that does not answer is waited for: Wait tries again until open succeeds, and
// the Status says why meanwhile, then nothing.
func TestWaitTriesAgainUntilOpenSucceeds(t *testing.T) {
	var st Status
	var tries atomic.Int32
	seen := make(chan string, 4)
	v, err := Wait(context.Background(), Options{AMQPURL: refusedURL(t), Status: &st},
		func(context.Context) (int, error) {
			if tries.Add(1) < 3 {
				return 0, fmt.Errorf("worker: %w", markedStore(errNotAnswering))
			}
			seen <- st.Reason()
			return 5, nil
		}, nil)
	if v != 5 || err != nil || tries.Load() != 3 {
		t.Fatalf("Wait = %d, %v after %d tries", v, err, tries.Load())
	}
	// The probe of the (refused) broker is the more precise reason, once it has run.
	if r := <-seen; r != ReasonStoreSilent && r != ReasonBrokerUnreachable {
		t.Fatalf("reason while waiting %q", r)
	}
	if r := st.Reason(); r != "" {
		t.Fatalf("reason once started %q, want none", r)
	}
}

// An error that trying again will not mend (a refused password, another partition count)
// ends the wait at once.
func TestWaitReturnsAnAnswerThatIsNo(t *testing.T) {
	no := errors.New("hub has 8 partitions, not 16")
	start := time.Now()
	_, err := Wait(context.Background(), Options{AMQPURL: refusedURL(t)},
		func(context.Context) (int, error) { return 0, no }, nil)
	if !errors.Is(err, no) || time.Since(start) > time.Second {
		t.Fatalf("Wait = %v after %s", err, time.Since(start))
	}
}

// With a timeout, the wait ends with an error that names the setting to raise.
func TestWaitGivesUpAtItsTimeout(t *testing.T) {
	start := time.Now()
	_, err := Wait(context.Background(), Options{AMQPURL: refusedURL(t), Timeout: 700 * time.Millisecond},
		func(context.Context) (int, error) { return 0, errNotAnswering }, nil)
	if err == nil || !strings.Contains(err.Error(), "WARREN_STARTUP_TIMEOUT") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
	if el := time.Since(start); el > 700*time.Millisecond+Grace {
		t.Fatalf("gave up after %s", el)
	}
}

// A SIGTERM (ctx ends) stops the wait at once, even while open ignores its context.
func TestWaitStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	defer close(block)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := Wait(ctx, Options{AMQPURL: "amqp://u:p@" + testenv.SilentListener(t) + "/"},
		func(context.Context) (int, error) { <-block; return 0, nil }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the context's", err)
	}
	if el := time.Since(start); el > 200*time.Millisecond+500*time.Millisecond {
		t.Fatalf("returned %s after start, %s after ctx ended", el, el-200*time.Millisecond)
	}
}

// While open waits on a broker, the probe tells a wedged broker (TCP accepted, no AMQP
// handshake) from one that refuses connections; the log says so, without the password.
func TestWaitSaysWhyTheBrokerDoesNotAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, url, want string
	}{
		{"wedged", "amqp://u:s3cret@" + testenv.SilentListener(t) + "/", ReasonBrokerNoHandshake},
		{"refused", refusedURL(t), ReasonBrokerUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st Status
			var logs bytes.Buffer
			var mu sync.Mutex
			log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := Wait(ctx, Options{AMQPURL: tc.url, Status: &st, Logger: log, ProbeTimeout: 200 * time.Millisecond},
					func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }, nil)
				done <- err
			}()
			deadline := time.Now().Add(5 * time.Second)
			for st.Reason() != tc.want {
				if time.Now().After(deadline) {
					t.Fatalf("reason %q, want %q", st.Reason(), tc.want)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			if out := logs.String(); !strings.Contains(out, "not ready") || !strings.Contains(out, tc.want) || strings.Contains(out, "s3cret") {
				t.Fatalf("log:\n%s", out)
			}
		})
	}
}

// refusedURL is a broker URL on a port nobody listens on.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "amqp://u:s3cret@" + addr + "/"
}

func markedStore(err error) error { return errors.Join(err, hubconn.ErrStore) }

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
