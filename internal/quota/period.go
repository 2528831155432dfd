package quota

import "time"

// periods lists the periods longest first; Usage rows and rule slots follow
// this order.
func periods() [6]Period {
	return [...]Period{PeriodMonth, PeriodSlidingDay, PeriodDay, PeriodSlidingHour, PeriodHour, PeriodSecond}
}

func (p Period) valid() bool {
	for _, q := range periods() {
		if p == q {
			return true
		}
	}
	return false
}

func (p Period) rank() int {
	for i, q := range periods() {
		if p == q {
			return i
		}
	}
	return 99
}

// sliding returns the window of a sliding period.
func (p Period) sliding() (time.Duration, bool) {
	switch p {
	case PeriodSlidingHour:
		return time.Hour, true
	case PeriodSlidingDay:
		return 24 * time.Hour, true
	}
	return 0, false
}

// window returns the fixed window of a calendar or per-second period that
// holds now: [start, end). The reset instant is end, exactly.
func (p Period) window(now time.Time, loc *time.Location) (start, end time.Time) {
	t := now.In(loc)
	switch p {
	case PeriodMonth:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 1, 0)
	case PeriodDay:
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 0, 1)
	case PeriodHour:
		start = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		return start, start.Add(time.Hour)
	default: // PeriodSecond
		start = now.Truncate(time.Second)
		return start, start.Add(time.Second)
	}
}
