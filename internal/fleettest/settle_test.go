package fleettest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOwnedPartitionsFromMetrics(t *testing.T) {
	body := "# TYPE warren_worker_partitions_owned_total counter\nwarren_worker_partitions_owned_total 3\n" +
		"# TYPE warren_worker_partitions_owned gauge\nwarren_worker_partitions_owned 7\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	n, err := ownedPartitions(context.Background(), srv.URL)
	if err != nil || n != 7 {
		t.Fatalf("ownedPartitions: %d, %v; want 7", n, err)
	}
	body = "# TYPE warren_worker_inbox_messages gauge\nwarren_worker_inbox_messages 0\n"
	if _, err := ownedPartitions(context.Background(), srv.URL); err == nil {
		t.Fatal("no gauge in the metrics, yet no error")
	}
}
