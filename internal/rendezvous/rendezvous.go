// Package rendezvous assigns partitions to workers by rendezvous (highest random weight)
// hashing: partition p belongs to the worker with the highest hash(p, workerID). Every
// process that sees the same set of worker ids computes the same owners, a joining worker
// takes about P/N partitions, and a leaving one gives away only its own (docs/design.md
// section 5). The dispatcher and the worker must agree, so the hash never changes.
//
//	owner := rendezvous.Owner(3, []string{"w1", "w2", "w3"})
package rendezvous

import (
	"encoding/binary"
	"hash/fnv"
	"sort"
)

// weight is FNV-1a 64 over the partition number (8 bytes, big endian) followed by the
// worker id, passed through a 64-bit finalizer so that ids differing in one character do
// not give neighbouring weights.
func weight(partition int, workerID string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(partition))
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(workerID))
	return mix(h.Sum64())
}

// mix is the finalizer of SplitMix64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Owner returns the worker id that owns the partition, or "" when workerIDs is empty. Ties
// (practically impossible) go to the smaller id, so the answer does not depend on order.
func Owner(partition int, workerIDs []string) string {
	best, bestW := "", uint64(0)
	for _, id := range workerIDs {
		w := weight(partition, id)
		if best == "" || w > bestW || (w == bestW && id < best) {
			best, bestW = id, w
		}
	}
	return best
}

// Assign maps every worker id to the sorted partitions in [0, partitions) it owns. Every
// worker id has an entry, possibly empty; duplicate ids count once.
func Assign(partitions int, workerIDs []string) map[string][]int {
	out := make(map[string][]int, len(workerIDs))
	for _, id := range workerIDs {
		if _, ok := out[id]; !ok {
			out[id] = []int{}
		}
	}
	for p := 0; p < partitions; p++ {
		if o := Owner(p, workerIDs); o != "" {
			out[o] = append(out[o], p)
		}
	}
	for _, ps := range out {
		sort.Ints(ps)
	}
	return out
}
