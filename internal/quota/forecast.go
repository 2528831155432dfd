package quota

import "time"

// Exhaustion is what a Forecast expects of a quota before its reset.
type Exhaustion string

// The exhaustions.
const (
	Spent          Exhaustion = "spent"            // nothing left now
	BeforeReset    Exhaustion = "before_reset"     // runs out at ExhaustsAt, before the reset
	NotBeforeReset Exhaustion = "not_before_reset" // lasts until the reset at this rate
)

// Forecast is where a quota is heading at its burn rate.
type Forecast struct {
	// BurnRate is units per hour: for a calendar period (month, day, hour)
	// the units used since the period started, over the time elapsed but
	// at least a tenth of the period (so that the first calls of a period
	// do not read as a flood); for a sliding window or a per-second rate,
	// the units in the window over its length.
	BurnRate   float64
	Exhaustion Exhaustion
	ExhaustsAt time.Time // when the units left run out at BurnRate; set only for BeforeReset
}

// MinBurnShare is the least share of a calendar period a burn rate is
// averaged over.
const MinBurnShare = 0.1

// forecast projects u at now. For a calendar period the units left run out
// at now + Remaining / BurnRate; when that is before u.ResetsAt the quota is
// BeforeReset. A sliding window or a rate holds at a steady rate what it
// holds now, so it is Spent or NotBeforeReset. The same computation in
// PromQL is the recording rules of deploy/alerts.yml.
func forecast(u *Usage, now time.Time) Forecast {
	width := u.ResetsAt.Sub(u.PeriodStart)
	calendar := u.Period == PeriodMonth || u.Period == PeriodDay || u.Period == PeriodHour
	basis := width
	if span, ok := u.Period.sliding(); ok {
		basis = span
	} else if calendar {
		basis = max(now.Sub(u.PeriodStart), time.Duration(float64(width)*MinBurnShare))
	}
	f := Forecast{Exhaustion: NotBeforeReset}
	if basis > 0 {
		f.BurnRate = float64(u.Used) / basis.Hours()
	}
	switch {
	case u.Remaining <= 0:
		f.Exhaustion = Spent
	case calendar && u.Used > 0 && basis > 0:
		// Compared as floats: a large remainder over a small use is more
		// than a time.Duration holds.
		left := float64(u.Remaining) / float64(u.Used) * float64(basis)
		if left < float64(u.ResetsAt.Sub(now)) {
			at := now.Add(time.Duration(left))
			f.Exhaustion, f.ExhaustsAt = BeforeReset, at.Truncate(time.Second).In(u.ResetsAt.Location())
		}
	}
	return f
}
