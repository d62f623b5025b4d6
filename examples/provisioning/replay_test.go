package provisioning_test

import (
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/provisioning"
)

// TestRecordedHistoriesReplay replays the histories scripts/record-histories.sh recorded
// from a local fleet (`client history ID --json`): a change to the orchestrators that
// instances in flight could not replay fails here, before it is deployed.
func TestRecordedHistoriesReplay(t *testing.T) {
	r := durable.NewRegistry()
	if err := provisioning.Register(r); err != nil {
		t.Fatal(err)
	}
	durabletest.ReplayDir(t, r, "testdata/histories")
}
