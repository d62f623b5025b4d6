package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// healthz says the process is up; it checks nothing else.
func (d *Dispatcher) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the store and the broker answer: 200 when both do, 503 naming the
// one that does not. The answer is a fixed phrase per dependency, since /readyz needs no
// token and the drivers' errors name hosts and topology; the detail goes to the log, once
// per change.
func (d *Dispatcher) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for _, dep := range []struct {
		name string
		ping func(context.Context) error
	}{{"store", d.pingStore}, {"broker", d.pingBroker}} {
		err := dep.ping(ctx)
		d.readiness.note(d.log, dep.name, err)
		checks[dep.name] = "ok"
		if err != nil {
			checks[dep.name], ready = "not answering", false
		}
	}
	code := http.StatusOK
	status := "ready"
	if !ready {
		code, status = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// readiness remembers the last error each dependency's check logged, so that a probe
// every few seconds logs a failure when it begins or changes, not each time.
type readiness struct {
	mu   sync.Mutex
	last map[string]string
}

func (rd *readiness) note(log *slog.Logger, dep string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	rd.mu.Lock()
	if rd.last == nil {
		rd.last = map[string]string{}
	}
	was := rd.last[dep]
	rd.last[dep] = msg
	rd.mu.Unlock()
	switch {
	case msg == was:
	case err != nil:
		log.Warn("readyz: "+dep+" not answering", "err", err)
	default:
		log.Info("readyz: " + dep + " answering again")
	}
}

func (d *Dispatcher) pingStore(ctx context.Context) error {
	if p, ok := d.store.(Pinger); ok {
		return p.Ping(ctx)
	}
	// A read of the (small) workers collection proves the store answers.
	_, err := d.store.LiveWorkers(ctx, time.Second)
	return err
}

func (d *Dispatcher) pingBroker(ctx context.Context) error {
	if p, ok := d.broker.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// amqpPinger checks that a broker node of the URL list accepts TCP connections. The
// queues.Conn reconnects by itself and has no health call of its own; publishing a probe
// would leave messages behind, so reachability is what /readyz can honestly tell.
type amqpPinger struct {
	Broker
	hostports []string
}

func newAMQPPinger(b Broker, amqpURLs string) *amqpPinger {
	p := &amqpPinger{Broker: b}
	for _, raw := range strings.Split(amqpURLs, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = "5672"
			if u.Scheme == "amqps" {
				port = "5671"
			}
		}
		p.hostports = append(p.hostports, net.JoinHostPort(u.Hostname(), port))
	}
	return p
}

func (p *amqpPinger) Ping(ctx context.Context) error {
	var errs []error
	for _, hp := range p.hostports {
		var dialer net.Dialer
		c, err := dialer.DialContext(ctx, "tcp", hp)
		if err == nil {
			c.Close()
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return errors.New("no broker address configured")
	}
	return fmt.Errorf("no broker node answers: %w", errors.Join(errs...))
}
