package redisq

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/receiver/driver"
)

// Partitioned is a driver.Queue spread over several streams, for more
// throughput than one stream (one Redis node, one thread) gives. Create it
// with NewPartitioned.
//
// Each partition is a Queue of its own, with its own stream, delayed set and
// workers; an event goes to the partition chosen by a hash of its provider
// and ID, so the copies of one event meet in one partition. The partitions'
// stream names differ in their hash tag ("hookwise:{events-0}:stream",
// "hookwise:{events-1}:stream", …), so a Cluster spreads them over its nodes.
// Every instance must use the same number of partitions; changing it strands
// the entries of the partitions no longer read until they are drained by an
// instance started with the old number.
type Partitioned struct {
	parts []*Queue
}

var _ driver.Queue = (*Partitioned)(nil)

// NewPartitioned returns a queue of n partitions on client, which the caller
// owns. The options apply to every partition: Workers is per partition, and
// the partitions' stream names derive from Stream's as PartitionStream says.
// It panics if n < 1.
func NewPartitioned(client redis.UniversalClient, n int, opts ...Option) *Partitioned {
	if n < 1 {
		panic("redisq: NewPartitioned expects n >= 1")
	}
	base := newConfig(opts).stream
	p := &Partitioned{parts: make([]*Queue, n)}
	for i := range p.parts {
		p.parts[i] = New(client, append(opts[:len(opts):len(opts)], Stream(PartitionStream(base, i)))...)
	}
	return p
}

// PartitionStream returns the stream name of partition i of stream: "-i" is
// appended inside the hash tag ("hookwise:{events}:stream" →
// "hookwise:{events-1}:stream"), or to a name without one.
func PartitionStream(stream string, i int) string {
	suffix := "-" + strconv.Itoa(i)
	tag, ok := hashTag(stream)
	if !ok {
		return stream + suffix
	}
	at := strings.IndexByte(stream, '{') + 1 + len(tag)
	return stream[:at] + suffix + stream[at:]
}

// Partition returns the index of the partition that takes the event
// (provider, id) among n.
func Partition(provider, id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Enqueue adds e to its partition; see Queue.Enqueue.
func (p *Partitioned) Enqueue(ctx context.Context, e *driver.Event) error {
	return p.parts[Partition(e.Provider, e.ID, len(p.parts))].Enqueue(ctx, e)
}

// Start starts every partition with p. If one fails to start, those started
// are shut down and the error is returned.
func (p *Partitioned) Start(proc driver.Processor) error {
	for i, q := range p.parts {
		if err := q.Start(proc); err != nil {
			for _, started := range p.parts[:i] {
				_ = started.Shutdown(context.Background())
			}
			return err
		}
	}
	return nil
}

// Shutdown shuts every partition down at once; see Queue.Shutdown. It
// returns driver.ErrClosed on a second call, ctx.Err() if the deadline cut
// a drain short, or the partitions' other errors joined.
func (p *Partitioned) Shutdown(ctx context.Context) error {
	errs := make([]error, len(p.parts))
	var wg sync.WaitGroup
	for i, q := range p.parts {
		wg.Go(func() { errs[i] = q.Shutdown(ctx) })
	}
	wg.Wait()
	closed := 0
	for _, err := range errs {
		if errors.Is(err, driver.ErrClosed) {
			closed++
		}
	}
	if closed == len(errs) {
		return driver.ErrClosed
	}
	if ctx.Err() != nil && errors.Join(errs...) != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// Stats sums the partitions' backlogs (driver.StatsReader); OldestAge is the
// largest.
func (p *Partitioned) Stats(ctx context.Context) (driver.Stats, error) {
	var st driver.Stats
	for _, q := range p.parts {
		s, err := q.Stats(ctx)
		if err != nil {
			return driver.Stats{}, err
		}
		st.Depth += s.Depth
		st.OldestAge = max(st.OldestAge, s.OldestAge)
	}
	return st, nil
}
