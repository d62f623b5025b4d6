package queues

import (
	"fmt"
	"hash/fnv"
)

// PartitionOf is the control-queue partition of an instance: FNV-1a (32 bit) of its id modulo
// the partition count. Every process of a hub must agree on it, so it never changes.
func PartitionOf(instanceID string, partitions int) int {
	if partitions <= 0 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(instanceID))
	return int(h.Sum32() % uint32(partitions))
}

// ControlQueue is the name of a partition's control queue, e.g. "warren.control.03".
func ControlQueue(hub string, partition int) string {
	return fmt.Sprintf("%s.control.%02d", hubOrDefault(hub), partition)
}

// WorkItemQueue is the name of the hub's shared activity queue, e.g. "warren.workitems".
func WorkItemQueue(hub string) string { return hubOrDefault(hub) + ".workitems" }

// DeadLetterQueue is the name of the hub's dead-letter queue, e.g. "warren.deadletter".
func DeadLetterQueue(hub string) string { return hubOrDefault(hub) + ".deadletter" }

// delayLevel names level k of the timer ladder; the level's exchange and queue share it.
func delayLevel(hub string, k int) string { return fmt.Sprintf("%s.delay.%02d", hubOrDefault(hub), k) }

// delayDeliver names the exchange below the lowest level, which hands due messages to their
// destination queue.
func delayDeliver(hub string) string { return hubOrDefault(hub) + ".delay.deliver" }

func hubOrDefault(hub string) string {
	if hub == "" {
		return DefaultHub
	}
	return hub
}
