package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// BenchmarkQueueThroughput measures messages per second from Enqueue to
// loopback sinks that accept everything: each message has 100 recipients
// on 10 domains (10 per domain), so one message is 10 SMTP transactions.
// 8 goroutines enqueue (like submission clients) while the scheduler
// delivers; the clock stops when every sink has every message. DKIM
// signing (Ed25519 + RSA) is included in the signed variant.
//
//	go test -run '^$' -bench QueueThroughput -benchtime 200x -count 5 ./queue/
//
// The "direct" variant is the baseline: the same messages sent by 8
// goroutines straight to the sinks with go-smtp's client (one connection
// per domain and message, nothing stored), so queue/direct is the cost of
// durability and scheduling on the same machine at the same moment.
func BenchmarkQueueThroughput(b *testing.B) {
	b.Run("direct", benchDirect)
	for _, signed := range []bool{false, true} {
		b.Run(map[bool]string{false: "unsigned", true: "dkim"}[signed], func(b *testing.B) {
			benchThroughput(b, signed)
		})
	}
}

func benchDirect(b *testing.B) {
	n := newFakeNet(b)
	const domains, perDomain = 10, 10
	var sinks []*sink
	for d := range domains {
		ip := "127.0.1." + strconv.Itoa(10+d)
		sinks = append(sinks, n.sink(b, fmt.Sprintf("mx.d%d.example", d), ip, sinkOpts{discard: true, noTLS: true}))
	}
	msg := testMessage("alice@example.org", "bench")
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				for d, s := range sinks {
					var rcpts []string
					for i := range perDomain {
						rcpts = append(rcpts, fmt.Sprintf("user%d@d%d.example", i, d))
					}
					c, err := smtp.Dial(s.addr)
					if err != nil {
						b.Error(err)
						return
					}
					if err := c.Hello("mail.example.org"); err != nil {
						b.Error(err)
					}
					if err := c.SendMail("alice@example.org", rcpts, strings.NewReader(msg)); err != nil {
						b.Error(err)
					}
					c.Quit()
				}
			}
		}()
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N*domains*perDomain)/el.Seconds(), "rcpts/s")
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
	msg := testMessage("alice@example.org", "bench")
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
