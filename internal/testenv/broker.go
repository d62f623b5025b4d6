package testenv

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// CheckRabbitMQ opens a fresh connection to the test broker and declares a server-named,
// exclusive queue on it, all within timeout, and says how long that took. A broker that
// accepts TCP connections but has stopped answering fails it, with an error that says
// what to look at: RabbitMQ 3.x does so when its file-handle budget (ulimit -n, less about a
// hundred) is spent, and every quorum queue reserves three handles, so a few hundred
// queues left behind by runs that never deleted their hubs wedge the node.
func CheckRabbitMQ(timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	var (
		mu   sync.Mutex
		sock net.Conn
	)
	dial := func(network, addr string) (net.Conn, error) {
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		_ = c.SetDeadline(t0.Add(timeout)) // the handshake; amqp091 clears it afterwards
		mu.Lock()
		sock = c
		mu.Unlock()
		return c, nil
	}
	step := "the AMQP handshake"
	done := make(chan error, 1)
	go func() {
		conn, err := amqp.DialConfig(AMQPURL(), amqp.Config{Dial: dial})
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		mu.Lock()
		step = "channel.open"
		mu.Unlock()
		ch, err := conn.Channel()
		if err != nil {
			done <- err
			return
		}
		mu.Lock()
		step = "queue.declare"
		mu.Unlock()
		_, err = ch.QueueDeclare("", false, true, true, false, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			return time.Since(t0), fmt.Errorf("RabbitMQ at %s failed %s: %w", hostPort(AMQPURL(), "127.0.0.1:5672"), step, err)
		}
		return time.Since(t0), nil
	case <-time.After(timeout):
		mu.Lock()
		defer mu.Unlock()
		if sock != nil {
			sock.Close()
		}
		return time.Since(t0), fmt.Errorf("RabbitMQ at %s accepts connections but did not answer %s within %v: "+
			"it may be out of file handles (`rabbitmqctl eval 'file_handle_cache:info([total_limit,total_used]).'`; "+
			"each quorum queue takes three); delete the hubs left behind (`scripts/services.sh hubs`)",
			hostPort(AMQPURL(), "127.0.0.1:5672"), step, timeout)
	}
}

// RequireRabbitMQ checks that the test broker listens, and fails the test when it
// listens but does not answer (see CheckRabbitMQ); when nothing listens it fails the test
// under CI and skips it elsewhere.
func RequireRabbitMQ(t testing.TB) {
	t.Helper()
	Require(t, "RabbitMQ", hostPort(AMQPURL(), "127.0.0.1:5672"))
	if _, err := CheckRabbitMQ(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
