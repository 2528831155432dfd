package fsspsim

import (
	"regexp"
	"strings"
	"testing"
)

// checkRecord checks the real-world formats of REFERENCE.md 2.2.
func checkRecord(t *testing.T, r Record) {
	t.Helper()
	formats := []struct {
		field, value, pattern string
	}{
		{"exe_production", r.ExeProduction, `^\d+/\d{2}/\d{5}-ИП от \d{2}\.\d{2}\.\d{4}( \d+/\d{2}/\d{5}-СД)?$`},
		{"bailiff", r.Bailiff, `^[А-ЯЁ]+ [А-ЯЁ]\. [А-ЯЁ]\. [+ ]7\(\d{3}\)\d{3}-\d{2}-\d{2}<br>[+ ]7\(\d{3}\)\d{3}-\d{2}-\d{2}<br>$`},
		{"ip_end", r.IPEnd, `^(\d{4}-\d{2}-\d{2}, \d+, \d+, \d+)?$`},
		{"subject", r.Subject, `^(.*\d+(\.\d+)? руб\.)?$`},
		{"details", r.Details, `^.+ от \d{2}\.\d{2}\.\d{4} № .+$`},
		{"department", r.Department, `^.+ \d{6}, .+$`},
		{"name", r.Name, `^.+ (\d{2}\.\d{2}\.\d{4} .+|\d{6}, РОССИЯ, .+)$`},
	}
	for _, f := range formats {
		if !regexp.MustCompile(f.pattern).MatchString(f.value) {
			t.Errorf("record %s = %q, want match for %s", f.field, f.value, f.pattern)
		}
	}
}

func TestRecordFormats(t *testing.T) {
	_, ts := start(t, instant())
	var all []Record
	for _, q := range []struct{ path, k1, v1, k2, v2 string }{
		{"/search/physical", "lastname", "Иванов", "firstname", "Иван"},
		{"/search/legal", "name", "Ромашка", "address", "г. Казань"},
	} {
		task := submit(t, ts, "GET", q.path, values("token", DemoToken, "region", "-1", q.k1, q.v1, q.k2, q.v2), nil)
		all = append(all, recordsOf(t, result(t, ts, task).Result[0])...)
	}
	var nbsp, sd, ended, spacePlus, severalSums, upperName int
	for _, r := range all {
		checkRecord(t, r)
		count := func(ok bool, n *int) {
			if ok {
				*n++
			}
		}
		count(strings.Contains(r.Details, "\u00a0"), &nbsp)
		count(strings.HasSuffix(r.ExeProduction, "-СД"), &sd)
		count(r.IPEnd != "", &ended)
		count(strings.HasPrefix(strings.SplitN(r.Bailiff, ". ", 3)[2], " 7"), &spacePlus)
		count(strings.Count(r.Subject, "руб.") > 1, &severalSums)
		count(r.Name == strings.ToUpper(r.Name), &upperName)
	}
	t.Logf("%d records: nbsp %d, СД %d, ended %d, space-plus %d, several sums %d", len(all), nbsp, sd, ended, spacePlus, severalSums)
	if nbsp == 0 {
		t.Errorf("records with NBSP in details = 0 of %d, want some", len(all))
	}
	for name, n := range map[string]int{"consolidated СД": sd, "ip_end set": ended,
		"+ as a space": spacePlus, "several руб. sums": severalSums} {
		if n == 0 || n == len(all) {
			t.Errorf("records with %s = %d of %d, want some but not all", name, n, len(all))
		}
	}
	if upperName != len(all) {
		t.Errorf("upper-case names = %d of %d, want all", upperName, len(all))
	}
}
