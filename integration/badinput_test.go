package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

// Every bad input is refused with a clear error and a non-zero exit, and leaves no instance
// and no message behind.
func TestBadInputThroughTheClient(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 1})
	big := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(big, []byte(`"`+strings.Repeat("x", 1<<20+10)+`"`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string // in stderr, case-insensitive
	}{
		{"malformed JSON input", []string{"start", "HelloSequence", "--input", `{"name": `}, "json"},
		{"invalid instance id", []string{"start", "HelloSequence", "--input", `"x"`, "--id", "bad id/with spaces"}, "instance id"},
		{"payload over the limit", []string{"start", "HelloSequence", "--input-file", big}, "limit"},
		{"unknown orchestrator", []string{"start", "NoSuchOrchestrator", "--input", `{}`}, "HelloSequence"},
		{"event for an unknown instance", []string{"raise", "no-such-instance", "Ack", "--data", "true"}, "not found"},
		{"malformed event data", []string{"raise", "no-such-instance", "Ack", "--data", "{oops"}, "json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.Client(c.args...)
			if r.Code == 0 {
				t.Fatalf("exit 0, want an error; stdout %q", r.Stdout)
			}
			if !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(c.want)) {
				t.Fatalf("stderr %q does not mention %q", r.Stderr, c.want)
			}
		})
	}
	// A worker configured with another partition count than the hub's refuses to start.
	if r := f.Run("worker", []string{"WARREN_PARTITIONS=3"}); r.Code == 0 ||
		!strings.Contains(r.Stderr, "partition") || !strings.Contains(r.Stderr, "3") {
		t.Fatalf("worker with 3 partitions on a hub of %d: exit %d, stderr %q", f.Partitions, r.Code, r.Stderr)
	}
	if got := list(t, f); len(got) != 0 {
		t.Fatalf("instances left behind: %+v", got)
	}
	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	for p := 0; p < f.Partitions; p++ {
		q, err := ch.QueueDeclarePassive(queues.ControlQueue(f.Hub, p), true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Messages != 0 {
			t.Fatalf("control queue %s holds %d messages", q.Name, q.Messages)
		}
	}
}
