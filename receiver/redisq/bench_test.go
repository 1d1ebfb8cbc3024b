package redisq

import (
	"context"
	"sync/atomic"
	"testing"
)

func BenchmarkEnqueue(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"xadd", nil},
		{"maxlen", []Option{MaxLen(1 << 40)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, rdb := startRedis(b)
			q := New(rdb, bc.opts...)
			var n atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := testEvent(int(n.Add(1)))
					if err := q.Enqueue(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
