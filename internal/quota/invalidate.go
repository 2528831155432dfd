package quota

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run keeps the engine subscribed to Config.Channel until ctx ends, dropping
// the cached exhaustions that other engines (and this one) invalidate: units
// refunded, a credential's split changed. While the subscription is
// confirmed, a known exhaustion is answered from memory until it resets;
// otherwise for at most Config.LocalCacheMax.
//
// The subscription reconnects by itself (go-redis PubSub); a connection
// silent for a ping interval is pinged, and one that does not answer the
// ping within another interval is replaced. Losing the subscription cuts
// every cached exhaustion to LocalCacheMax, since invalidations may have been
// missed.
//
// Run also adds to the ledger, every second and once more as it returns,
// the rejections answered without a script (see ledgerQueue).
//
// Run returns when ctx ends (its goroutines besides the caller's are a
// context.AfterFunc that closes the subscription and the ledger's flusher,
// which it waits for); call it at most once at a time per engine.
func (e *Engine) Run(ctx context.Context) error {
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		e.runLedger(ctx, time.Second)
	}()
	defer func() { <-flushed }()
	var mu sync.Mutex // guards ps against the AfterFunc
	ps := e.rdb.Subscribe(ctx, e.channel)
	closePS := func() {
		mu.Lock()
		defer mu.Unlock()
		_ = ps.Close()
	}
	stop := context.AfterFunc(ctx, closePS)
	defer func() {
		stop()
		closePS()
		e.local.setLive(false, e.now())
	}()
	pinged := false
	var backoff time.Duration
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, e.ping)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if timeout(err) && !pinged {
				pinged = true // silent for a while: is the connection still there?
				_ = ps.Ping(ctx)
				continue
			}
			e.local.setLive(false, e.now())
			if timeout(err) { // the ping went unanswered: start over on a new connection
				mu.Lock()
				_ = ps.Close()
				ps = e.rdb.Subscribe(ctx, e.channel)
				mu.Unlock()
			}
			pinged = false
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			continue
		}
		pinged, backoff = false, 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == e.channel {
				e.local.setLive(true, e.now())
			}
		case *redis.Message:
			e.local.invalidate(decodeInvalidation(m.Payload))
		}
	}
	return nil
}

// timeout reports whether err is a read that timed out.
func timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
