package faultproxy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/faultproxy"
)

// A SET NX cut after Redis applied it: go-redis re-sends it on a new
// connection, and the retry finds the key its first attempt wrote. (Compiled,
// not run: it needs a redis-server; see TestCutAfterApplySetNX.)
func ExampleProxy_CutAfterApply() {
	p, err := faultproxy.Start("127.0.0.1:6379")
	if err != nil {
		panic(err)
	}
	defer p.Close()
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr()})
	defer rdb.Close()

	cut := p.CutAfterApply(faultproxy.Command("SET"), 1)
	ok, err := rdb.SetNX(context.Background(), "claim:evt_1", "token", time.Hour).Result()
	fmt.Println(ok, err, cut.Fired(), p.Stats().Commands["SET"]) // false <nil> 1 2
}
