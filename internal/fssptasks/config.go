package fssptasks

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Reserve takes quota for one upstream call; (*quota.Engine).Reserve fits.
// A nil Reserve meters nothing.
type Reserve func(ctx context.Context, r quota.Request) (*quota.Reservation, error)

// Config tunes an Engine. Zero values take the defaults in brackets.
type Config struct {
	// Ops is the operation table: a task of each kind is metered under the
	// operation whose x-gateway names that task (nil: ops.Contract()).
	Ops         *ops.Table
	MaxWait     time.Duration // cap of a wait [25 s]; at most 60 s
	Deadline    time.Duration // a task not finished by then fails with an upstream-timeout problem [10 min]
	PollInitial time.Duration // first /status poll after submission [3 s]
	PollMax     time.Duration // largest interval between polls [20 s]
	Retention   time.Duration // a task answers 410 this long after it finished [24 h]
	GoneFor     time.Duration // how long Redis keeps a task past Retention to answer 410 [24 h]
	// LeaseTTL is how long a poller's lease lasts unrenewed: a dead poller's
	// task is taken over after this. It is renewed every LeaseTTL/3, during
	// upstream calls too; keep it well above one call's timeout, so that a
	// renewal delayed by a slow Redis does not lose it [35 s: 2 × the FSSP
	// client's default 15 s timeout + 5 s].
	LeaseTTL      time.Duration
	SubmitTimeout time.Duration // all upstream calls of one submission, even after the client hangs up [60 s]
	ScanInterval  time.Duration // how often a replica looks for tasks without a poller [1 s]
	Recheck       time.Duration // waiters' safety net against lost pub/sub messages [5 s]
	RedisTimeout  time.Duration // per Redis call [2 s]
	GroupLimit    int           // sub-requests per upstream group task [50]
	MaxGroup      int           // searches per group submission [500]
	MaxPollErrors int           // consecutive failed polls before the task fails [3]
	// Idempotency holds the Idempotency-Keys of submissions, scoped to the
	// tenant; its TTL is how long a key replays its task [a store on the
	// engine's Redis with the prefix "fssp:idem" and its default TTL, 24 h].
	Idempotency *idempotency.Store
	// Tokens returns the upstream token of a credential name, so any replica
	// can poll any task. Nil: only tokens seen by this replica's Submit.
	Tokens func(credential string) (tenant.Secret, bool)
	// OnRejected is told the name of a credential FSSP rejected (an invalid
	// token), once per failed call; cmd/gateway passes
	// metrics.Upstream.CredentialRejectedNow [nobody is told].
	OnRejected func(credential string)
	Now        func() time.Time // [time.Now]
	// Callbacks checks submissions' callback URLs and queues the webhook of
	// their finished tasks [nil: a submission with a callback is refused].
	Callbacks Callbacks
	// TaskPath prefixes a task id in a webhook's link to its results
	// ["/v1/fssp/tasks/"].
	TaskPath string
	// Tracer traces the poller: an "fssp.poll" span per part and poll,
	// linked to the submitting request's span, with "fssp.status" and
	// "fssp.result" under it [nil: no spans].
	Tracer trace.TracerProvider
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MaxWait, 25*time.Second)
	c.MaxWait = min(c.MaxWait, 60*time.Second)
	def(&c.Deadline, 10*time.Minute)
	def(&c.PollInitial, 3*time.Second)
	def(&c.PollMax, 20*time.Second)
	c.PollMax = max(c.PollMax, c.PollInitial)
	def(&c.Retention, 24*time.Hour)
	def(&c.GoneFor, 24*time.Hour)
	def(&c.LeaseTTL, 35*time.Second)
	def(&c.SubmitTimeout, time.Minute)
	def(&c.ScanInterval, time.Second)
	def(&c.Recheck, 5*time.Second)
	def(&c.RedisTimeout, 2*time.Second)
	if c.GroupLimit <= 0 {
		c.GroupLimit = 50
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = 500
	}
	if c.MaxPollErrors <= 0 {
		c.MaxPollErrors = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TaskPath == "" {
		c.TaskPath = "/v1/fssp/tasks/"
	}
	return c
}
