package quota

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The quota ledger says who spent what: every unit reserved, refunded or
// rejected, by credential, tenant, upstream, family and operation. It is kept
// per calendar month and per calendar day (in Config.Location), each period
// until the end of the next one, in one Redis hash per credential and period:
//
//	{cred:C}:q:ledger:PERIOD:START  field TENANT:UPSTREAM:FAMILY:OPERATION:KIND → units
//
// where KIND is reserved, refunded or rejected. The reserve and refund
// scripts add to it in the round trip of the check itself, so it is exact
// across replicas. Rejections answered from memory (a known exhaustion) and
// rejections by a per-second rate the engine gave up waiting on are queued
// and added by Run within a second (ledgerQueue).

// LedgerPeriods are the periods the ledger is kept for.
func LedgerPeriods() []Period { return []Period{PeriodMonth, PeriodDay} }

// The kinds of a ledger entry.
const (
	ledgerReserved = "reserved"
	ledgerRefunded = "refunded"
	ledgerRejected = "rejected"
)

// ledgerKey is the hash of credential's ledger for the period starting at
// start.
func ledgerKey(credential string, p Period, start time.Time) string {
	return "{cred:" + credential + "}:q:ledger:" + string(p) + ":" + strconv.FormatInt(start.Unix(), 10)
}

// ledgerField is the field prefix of one tenant's operation; the kind
// follows after a colon.
func ledgerField(tenant, upstream, family, operation string) string {
	return tenant + ":" + upstream + ":" + family + ":" + operation
}

// ledgerSpot is where a request counts in the ledger: the keys of its month
// and its day. Each lives until the end of the period after its own, plus
// an hour (ledgerTTL).
type ledgerSpot struct {
	credential string
	starts     [2]time.Time // month, day
}

func (e *Engine) ledgerSpot(credential string, now time.Time) ledgerSpot {
	s := ledgerSpot{credential: credential}
	for i, p := range LedgerPeriods() {
		s.starts[i], _ = p.window(now, e.loc)
	}
	return s
}

func (s ledgerSpot) keys() [2]string {
	var k [2]string
	for i, p := range LedgerPeriods() {
		k[i] = ledgerKey(s.credential, p, s.starts[i])
	}
	return k
}

// ledgerTTL is how long, from now, the ledger keys of s live (ms); 0 or
// less when they are gone.
func (e *Engine) ledgerTTL(s ledgerSpot, now time.Time) [2]int64 {
	var x [2]int64
	for i, p := range LedgerPeriods() {
		_, end := p.window(s.starts[i], e.loc)
		_, next := p.window(end, e.loc)
		x[i] = next.Add(time.Hour).Sub(now).Milliseconds()
	}
	return x
}

// ledgerQueue holds the ledger counts not yet in Redis. Per spot at most one
// batch is out at a time: a batch whose answer was lost is sent again with
// the same id (the script adds a batch once), and counts queued meanwhile
// wait for the next one, so the queue stays bounded by the number of spots
// and fields.
type ledgerQueue struct {
	mu      sync.Mutex
	pending map[ledgerSpot]map[string]int64
	unsent  map[ledgerSpot]*ledgerBatch
}

type ledgerBatch struct {
	id     string
	counts map[string]int64
}

func newLedgerQueue() *ledgerQueue {
	return &ledgerQueue{pending: map[ledgerSpot]map[string]int64{}, unsent: map[ledgerSpot]*ledgerBatch{}}
}

// add queues units under field (with its kind) at spot.
func (q *ledgerQueue) add(s ledgerSpot, field string, units int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.pending[s]
	if m == nil {
		m = map[string]int64{}
		q.pending[s] = m
	}
	m[field] += units
}

// take returns the batches to send: the unsent ones, and a new one per spot
// that has none out.
func (q *ledgerQueue) take() map[ledgerSpot]*ledgerBatch {
	q.mu.Lock()
	defer q.mu.Unlock()
	for s, m := range q.pending {
		if q.unsent[s] == nil {
			q.unsent[s] = &ledgerBatch{id: strconv.FormatUint(rand.Uint64(), 36), counts: m}
			delete(q.pending, s)
		}
	}
	out := make(map[ledgerSpot]*ledgerBatch, len(q.unsent))
	for s, b := range q.unsent {
		out[s] = b
	}
	return out
}

// sent records that b reached Redis.
func (q *ledgerQueue) sent(s ledgerSpot, b *ledgerBatch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.unsent[s] == b {
		delete(q.unsent, s)
	}
}

// flushLedger adds the queued ledger counts to Redis, one script per spot.
// Counts that could not be added stay queued for the next flush.
func (e *Engine) flushLedger(ctx context.Context) error {
	var errs []error
	now := e.now()
	for s, b := range e.ledger.take() {
		keys := s.keys()
		ttl := e.ledgerTTL(s, now)
		if ttl[0] <= 0 || ttl[1] <= 0 {
			e.ledger.sent(s, b) // queued for a ledger no longer kept
			continue
		}
		args := make([]any, 0, 3+2*len(b.counts))
		args = append(args, len(keys), ttl[0], ttl[1])
		for _, f := range slices.Sorted(maps.Keys(b.counts)) {
			args = append(args, f, b.counts[f])
		}
		rctx, cancel := e.redisCtx(ctx)
		err := e.s.ledgerAdd.Run(rctx, e.rdb, []string{keys[0], keys[1], attemptKey(s.credential, b.id, ":ledger")}, args...).Err()
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("quota: ledger %s: %w", s.credential, err))
			continue
		}
		e.ledger.sent(s, b)
	}
	return errors.Join(errs...)
}

// runLedger flushes the queue every interval until ctx ends, then once more.
func (e *Engine) runLedger(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*e.timeout)
			_ = e.flushLedger(fctx)
			cancel()
			return
		case <-t.C:
			_ = e.flushLedger(ctx)
		}
	}
}

// Spending is one row of the ledger: what one tenant's calls of one
// operation did to a credential's quota family in one ledger period.
type Spending struct {
	Credential, Tenant, Upstream, Family, Operation string
	Reserved, Refunded, Rejected                    int64 // units
}

// Spent is the units reserved and not refunded.
func (s Spending) Spent() int64 { return s.Reserved - s.Refunded }

// LedgerQuery says which part of the ledger to read.
type LedgerQuery struct {
	Period      Period    // PeriodMonth or PeriodDay; "": PeriodMonth
	At          time.Time // an instant in the wanted period; zero: now
	Credentials []string  // the credentials whose ledgers are read
	Tenant      string    // only this tenant's rows; "": every tenant's
	Family      string    // only this family's rows; "": every family's
}

// Ledger is the ledger of one period.
type Ledger struct {
	Period     Period
	Start, End time.Time // [Start, End) in Config.Location
	Rows       []Spending
}

// ErrLedgerPeriod is the error of a LedgerQuery whose period the ledger
// does not keep.
var ErrLedgerPeriod = errors.New("quota: the ledger is kept per month and per day")

// Ledger reads the ledger of the period holding q.At for q.Credentials, one
// Redis round trip (a pipeline) in all. Rows come sorted by credential,
// tenant, upstream, family and operation. A period older than the previous
// one has no rows.
func (e *Engine) Ledger(ctx context.Context, q LedgerQuery) (Ledger, error) {
	if q.Period == "" {
		q.Period = PeriodMonth
	}
	if !slices.Contains(LedgerPeriods(), q.Period) {
		return Ledger{}, ErrLedgerPeriod
	}
	if q.At.IsZero() {
		q.At = e.now()
	}
	start, end := q.Period.window(q.At, e.loc)
	l := Ledger{Period: q.Period, Start: start, End: end, Rows: []Spending{}}
	creds := slices.Clone(q.Credentials)
	slices.Sort(creds)
	creds = slices.Compact(creds)
	if len(creds) == 0 {
		return l, nil
	}
	for _, c := range creds {
		if err := validName("credential", c); err != nil || c == "" {
			return Ledger{}, badName("ledger", c)
		}
	}
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	pipe := e.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(creds))
	for i, c := range creds {
		cmds[i] = pipe.HGetAll(rctx, ledgerKey(c, q.Period, start))
	}
	if _, err := pipe.Exec(rctx); err != nil {
		return Ledger{}, storeErr("", fmt.Errorf("quota: read the ledger: %w", err))
	}
	for i, c := range creds {
		rows := map[string]*Spending{}
		for field, v := range cmds[i].Val() {
			parts := strings.Split(field, ":")
			n, err := strconv.ParseInt(v, 10, 64)
			if len(parts) != 5 || err != nil {
				continue // not written by this engine
			}
			if (q.Tenant != "" && parts[0] != q.Tenant) || (q.Family != "" && parts[2] != q.Family) {
				continue
			}
			k := strings.Join(parts[:4], ":")
			r := rows[k]
			if r == nil {
				r = &Spending{Credential: c, Tenant: parts[0], Upstream: parts[1], Family: parts[2], Operation: parts[3]}
				rows[k] = r
			}
			switch parts[4] {
			case ledgerReserved:
				r.Reserved += n
			case ledgerRefunded:
				r.Refunded += n
			case ledgerRejected:
				r.Rejected += n
			}
		}
		for _, k := range slices.Sorted(maps.Keys(rows)) {
			l.Rows = append(l.Rows, *rows[k])
		}
	}
	return l, nil
}
