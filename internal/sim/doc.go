// Package sim is a deterministic simulation of a whole Warren fleet in one process: N
// workers and a dispatcher over an in-memory broker (internal/membroker) and store
// (history/memstore), all driven by one seeded scheduler on one virtual clock, so that a
// seed replays exactly. Each run plays workloads (the seed provisioning scenario, hello
// sequences, fan-out, continue-as-new with carried events, timers and retries, terminate /
// suspend / resume, an oversized episode, an invalid child id) while it injects faults
// (workers crashing at each step of the episode protocol and of the activity loop,
// duplicated messages, lost confirms, lost acks, failing store operations, workers joining,
// draining and dying, connections that drop, clock skew; half the workers run activities in
// place, half through the work-item queue), then checks the invariants of durable execution
// (invariants.go).
//
// It adds to the integration tests against the real RabbitMQ and MongoDB and replaces none:
// the in-memory parts follow the real ones' semantics as Warren uses them, nothing more.
//
//	err := sim.Run(sim.Options{Seed: 42}) // a *sim.Failure names the seed and the schedule
//
// [Run] plays one seed; a [*Failure] holds what broke, the seed and the schedule that
// replays it.
package sim
