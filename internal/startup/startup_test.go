package startup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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
