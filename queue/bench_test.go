package queue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkQueueThroughput measures messages per second from Enqueue to
// loopback sinks that accept everything: each message has 100 recipients
// on 10 domains (10 per domain), so one message is 10 SMTP transactions.
// 8 goroutines enqueue (like submission clients) while the scheduler
// delivers; the clock stops when every sink has every message. DKIM
// signing (Ed25519 + RSA) is included in the signed variant.
//
//	go test -run '^$' -bench QueueThroughput -benchtime 200x -count 5 ./queue/
func BenchmarkQueueThroughput(b *testing.B) {
	for _, signed := range []bool{false, true} {
		b.Run(map[bool]string{false: "unsigned", true: "dkim"}[signed], func(b *testing.B) {
			benchThroughput(b, signed)
		})
	}
}

func benchThroughput(b *testing.B, signed bool) {
	n := newFakeNet(b)
	const domains, perDomain = 10, 10
	var sinks []*sink
	var rcpts []string
	for d := range domains {
		name := fmt.Sprintf("d%d.example", d)
		ip := "127.0.1." + strconv.Itoa(10+d)
		n.mx(name, 10, "mx."+name, ip)
		sinks = append(sinks, n.sink(b, "mx."+name, ip, sinkOpts{discard: true, noTLS: true}))
		for i := range perDomain {
			rcpts = append(rcpts, fmt.Sprintf("user%d@%s", i, name))
		}
	}
	e := newEnv(b, n, func(o *Options) {
		o.Now = nil
		if !signed {
			o.Signer = nil
		}
	})
	msg := testMessage("alice@example.org", "bench") + string(make([]byte, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.q.Start(ctx)

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				e.enqueue(b, "alice@example.org", rcpts, msg)
			}
		}()
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	enqueued := time.Since(start)
	for _, s := range sinks {
		s.wait(b, b.N)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N*domains*perDomain)/el.Seconds(), "rcpts/s")
	b.ReportMetric(float64(b.N)/enqueued.Seconds(), "enqueue-msgs/s")
	e.q.Close()
}
