package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs its own troubles (a pool that cannot dial, say) through a
// process-wide logger that writes plain text to stderr. redisLogger routes
// them into the JSON log at WARN instead, through the logger of the running
// program.
type redisLogger struct{}

var (
	redisLog     atomic.Pointer[slog.Logger]
	redisLogOnce sync.Once
)

// Printf implements go-redis's internal.Logging.
func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		l.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
	}
}

// logRedisTo makes go-redis log through l.
func logRedisTo(l *slog.Logger) {
	redisLog.Store(l)
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{}) })
}
