package postgres_test

import (
	"testing"
	"time"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/drivertest"
)

// The Store passes the dedupe conformance suite.
func TestStoreConformance(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	dedupetest.Run(t, func(t *testing.T) dedupe.Store {
		return postgres.NewStore(pool, postgres.Schema(schema))
	})
}

// The Queue passes the queue conformance suite, durability included.
func TestQueueConformance(t *testing.T) {
	pool := shared(t)
	// Visibility: long enough that a heartbeat delayed by a loaded CI
	// machine (race detector, two cores) never lets a running event's lease
	// lapse, which would let another claim run it again, as after a crash;
	// short enough that the durable subtests' takeover fits their wait.
	drivertest.RunQueue(t, func(t *testing.T) driver.Queue {
		return postgres.NewQueue(pool, postgres.Schema(schemaFor(t, pool)), postgres.Endpoint("drivertest"),
			postgres.PollInterval(20*time.Millisecond), postgres.Visibility(4*time.Second), postgres.Workers(16),
			postgres.CleanupInterval(-1))
	}, drivertest.Durable())
}

// The dead-letter store passes the dead-letter conformance suite, with its
// bound.
func TestDeadLettersConformance(t *testing.T) {
	pool := shared(t)
	drivertest.RunDeadLetters(t, func(t *testing.T) driver.DeadLetterStore {
		return postgres.NewDeadLetters(pool, postgres.Schema(schemaFor(t, pool)), postgres.MaxDeadLetters(20))
	}, drivertest.RefusesBeyond(20))
}
