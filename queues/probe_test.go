package queues

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/internal/testenv"
)

// Probe and Dial say how far an attempt got: a wedged broker (TCP accepted, no handshake)
// reads differently from one that refuses connections, and neither shows the password.
func TestProbeTellsAWedgedBrokerFromADownOne(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "amqp://u:s3cret@" + l.Addr().String() + "/"
	l.Close()
	wedged := "amqp://u:s3cret@" + testenv.SilentListener(t) + "/"
	for _, tc := range []struct {
		name, url string
		want      error
	}{
		{"wedged", wedged, ErrNoHandshake},
		{"refused", refused, ErrUnreachable},
		{"both, the wedged last", refused + "," + wedged, ErrNoHandshake},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := Probe(context.Background(), tc.url, 300*time.Millisecond)
			if !errors.Is(err, tc.want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Probe = %v, want %v", err, tc.want)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("Probe took %s", el)
			}
			if strings.Contains(tc.url, ",") {
				return // Dial's last error may be either node's
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := Dial(ctx, Config{URL: tc.url, DialTimeout: 300 * time.Millisecond}); !errors.Is(err, tc.want) {
				t.Fatalf("Dial = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestServicesProbeOfALiveBroker(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	if err := Probe(context.Background(), testenv.AMQPURL(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
