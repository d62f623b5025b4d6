package worker

import "os"

// The package's tests drive the work-item queue's path step by step (a work item in the
// queue, its result in a control queue); the tests in eager_test.go turn activities run in
// place on for themselves. WARREN_TEST_IN_PLACE=1 runs every test with them on.
func init() {
	if os.Getenv("WARREN_TEST_IN_PLACE") == "" {
		defaultInPlace = -1
	}
}
