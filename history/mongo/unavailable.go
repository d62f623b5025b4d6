package mongo

import (
	"errors"

	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/x/mongo/driver"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"
)

// IsUnavailable reports whether err is the driver saying that the server was out of reach
// rather than that it refused the operation: no server could be selected (it is down or
// restarting), a connection was refused, dropped or timed out, or no connection came free
// before the deadline. Such an operation may succeed when tried again once the server
// answers; a write among them may or may not have taken effect. A deadline that passed
// elsewhere (a broker's call under the same context) is not the store's and does not count.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var (
		sel     topology.ServerSelectionError
		queue   topology.WaitQueueTimeoutError
		conn    topology.ConnectionError
		cleared driver.RetryablePoolError // the pool was cleared after a connection failed
	)
	return errors.As(err, &sel) || errors.As(err, &queue) || errors.As(err, &conn) ||
		errors.As(err, &cleared) && cleared.Retryable() ||
		errors.Is(err, topology.ErrServerSelectionTimeout) ||
		errors.Is(err, topology.ErrTopologyClosed) ||
		errors.Is(err, mongodrv.ErrClientDisconnected) ||
		errors.Is(err, driver.ErrDeadlineWouldBeExceeded) ||
		mongodrv.IsNetworkError(err)
}
