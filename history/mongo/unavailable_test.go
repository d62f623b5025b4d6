package mongo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/x/mongo/driver"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"

	"github.com/warrenhq/warren/history"
)

func TestIsUnavailable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"no server to select", fmt.Errorf("get instance: %w", topology.ServerSelectionError{Wrapped: topology.ErrServerSelectionTimeout}), true},
		{"selection out of time", fmt.Errorf("list: %w", topology.ServerSelectionError{Wrapped: context.DeadlineExceeded}), true},
		{"connection dropped", fmt.Errorf("commit: %w", mongodrv.CommandError{Message: "socket was unexpectedly closed: EOF", Labels: []string{"NetworkError"}}), true},
		{"connection refused", topology.ConnectionError{Wrapped: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{"no connection came free", topology.WaitQueueTimeoutError{Wrapped: context.DeadlineExceeded}, true},
		{"deadline too close to try", fmt.Errorf("heartbeat: %w", driver.ErrDeadlineWouldBeExceeded), true},
		{"client closed", mongodrv.ErrClientDisconnected, true},
		{"nil", nil, false},
		{"a deadline of the broker's", fmt.Errorf("publish: %w", context.DeadlineExceeded), false},
		{"a refusal", mongodrv.CommandError{Code: 2, Message: "BadValue"}, false},
		{"duplicate key", mongodrv.WriteException{WriteErrors: []mongodrv.WriteError{{Code: 11000}}}, false},
		{"invalid argument", fmt.Errorf("%w: empty id", history.ErrInvalidArgument), false},
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// A server that is not there is reported as unavailable, within the selection timeout.
func TestOpenWithNoServerIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	began := time.Now()
	s, err := Open(testContext(t), Options{URI: "mongodb://" + addr + "/", Hub: "h"})
	if err == nil {
		s.Close(context.Background())
		t.Fatalf("Open succeeded with nothing at %s", addr)
	}
	if !IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = false", err)
	}
	if took := time.Since(began); took > DefaultServerSelectionTimeout+2*time.Second {
		t.Errorf("Open took %s to fail, want about the default selection timeout %s", took, DefaultServerSelectionTimeout)
	}
}
