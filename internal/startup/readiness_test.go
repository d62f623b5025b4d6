package startup

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warrenhq/warren/queues"
)

// A failed broker check says how far the last dial got, and never the error's text.
func TestNotAnsweringNamesAWedgedBroker(t *testing.T) {
	wedged := fmt.Errorf("queues: not connected (last attempt: %w: read tcp 10.0.0.1:5672: i/o timeout)", queues.ErrNoHandshake)
	if got := NotAnswering(wedged); !strings.Contains(got, "does not complete the AMQP handshake") || strings.Contains(got, "10.0.0.1") {
		t.Fatalf("NotAnswering = %q", got)
	}
	if got := NotAnswering(fmt.Errorf("x: %w", queues.ErrUnreachable)); got != "not answering: it cannot be reached" {
		t.Fatalf("NotAnswering = %q", got)
	}
}
