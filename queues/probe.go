package queues

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// How far a failed connection attempt got, for errors.Is on the errors of Dial and Probe:
// it tells a broker that is down from one that is wedged.
var (
	// ErrUnreachable: no TCP connection (refused, no route, or no answer to the SYN).
	ErrUnreachable = errors.New("queues: the broker cannot be reached")
	// ErrNoHandshake: the TCP connection opened but the AMQP handshake did not complete
	// (RabbitMQ out of file handles, or still booting).
	ErrNoHandshake = errors.New("queues: the broker accepted the connection but did not complete the AMQP handshake")
)

// Probe opens one connection to each broker of the comma-separated url list in turn and
// closes it at once. It returns nil as soon as one completes the AMQP handshake within
// timeout; otherwise the error of the last, which wraps ErrUnreachable or ErrNoHandshake (or
// is the broker's refusal of the credentials, an *amqp.Error) and names the broker with its
// password hidden. A binary waiting for its broker uses it to say why it waits.
func Probe(ctx context.Context, url string, timeout time.Duration) error {
	urls := Config{URL: url}.urls()
	if len(urls) == 0 {
		return errors.New("queues: no broker URL to probe")
	}
	var err error
	for _, u := range urls {
		l, derr := dialLink(ctx, u, Config{DialTimeout: timeout, OperationTimeout: timeout, ConnectionName: "warren-probe"})
		if derr == nil {
			l.abort()
			_ = l.Close()
			return nil
		}
		err = fmt.Errorf("queues: probing %s: %w", redact(u), derr)
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

// IsAccessRefused reports whether err is the broker's refusal of the credentials or vhost.
func IsAccessRefused(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.AccessRefused
}
