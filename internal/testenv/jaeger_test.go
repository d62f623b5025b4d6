package testenv

import (
	"net"
	"testing"
	"time"
)

// RequireJaeger waits, within WARREN_TEST_JAEGER_WAIT, for a Jaeger that starts listening
// late, and goes on once it does.
func TestRequireJaegerWaitsForALateJaeger(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there until the goroutine below
	t.Setenv("WARREN_TEST_JAEGER_URL", "http://"+addr)
	t.Setenv("CI", "")
	saved := jaegerDeadline
	t.Cleanup(func() { jaegerDeadline = saved })
	until := time.Now().Add(30 * time.Second)
	jaegerDeadline = func() time.Time { return until }

	late := make(chan net.Listener, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			close(late)
			return
		}
		late <- l
	}()
	t0 := time.Now()
	skipped := true
	t.Run("require", func(t *testing.T) {
		RequireJaeger(t)
		skipped = false
	})
	if l, ok := <-late; ok {
		l.Close()
	} else {
		t.Skip("the port was taken meanwhile")
	}
	if skipped {
		t.Fatalf("RequireJaeger skipped after %s instead of waiting for Jaeger", time.Since(t0).Round(time.Millisecond))
	}
	if waited := time.Since(t0); waited < time.Second {
		t.Fatalf("RequireJaeger went on after %s, before anything listened", waited)
	}
}
