package fleettest

import (
	"bufio"
	"strings"
	"testing"
)

func TestOwnedFromMetrics(t *testing.T) {
	text := `# HELP warren_worker_partitions_owned_total not this one
warren_worker_partitions_owned_total 3
# TYPE warren_worker_partitions_owned gauge
warren_worker_partitions_owned 7
warren_worker_inbox_messages 0
`
	n, err := ownedFrom(bufio.NewScanner(strings.NewReader(text)))
	if err != nil || n != 7 {
		t.Fatalf("ownedFrom: %d, %v; want 7", n, err)
	}
	if _, err := ownedFrom(bufio.NewScanner(strings.NewReader("warren_worker_inbox_messages 0\n"))); err == nil {
		t.Fatal("no gauge in the metrics, yet no error")
	}
}
