package garantsim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// generateDocuments adds the seeded bulk of the corpus: federal laws,
// resolutions, decrees, orders, letters, Moscow acts and court decisions.
func generateDocuments(c *corpus, rng *rand.Rand) {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	randDate := func(from, to int) time.Time {
		return day(from+rng.IntN(to-from+1), time.Month(1+rng.IntN(12)), 1+rng.IntN(28))
	}
	topicFor := func(t time.Time) int {
		return 10000000 + (t.Year()-1990)*1900000 + rng.IntN(1900000)
	}
	usedNumbers := map[string]bool{}
	number := func(t time.Time, max int, suffix string) string {
		for {
			n := fmt.Sprintf("%d%s", 1+rng.IntN(max), suffix)
			if key := itoa(t.Year()) + n; !usedNumbers[key] {
				usedNumbers[key] = true
				return n
			}
		}
	}
	add := func(d *document) {
		for !c.add(d) {
			d.topic++
		}
	}
	for i := range 90 {
		t := randDate(1995, 2025)
		n := number(t, 600, "-ФЗ")
		d := law(topicFor(t), fmt.Sprintf("Федеральный закон от %s N %s \"%s\"", dateWords(t), n, pick(lawTitles())), n, t, 3+rng.IntN(22), pick(classes()))
		switch {
		case i%11 == 3:
			d.status, d.abolished = statusLost, t.AddDate(3+rng.IntN(8), 0, 0)
		case i%17 == 5:
			d.status, d.date = statusFuture, day(2026, 9, 1+rng.IntN(28))
			d.name = fmt.Sprintf("Федеральный закон от %s N %s \"%s\"", dateWords(d.date), n, pick(lawTitles()))
		}
		add(d)
	}
	for range 70 {
		t := randDate(2000, 2025)
		n := number(t, 2400, "")
		d := law(topicFor(t), fmt.Sprintf("Постановление Правительства РФ от %s N %s \"Об утверждении %s\"", dateWords(t), n, pick(approvals())), n, t, 3+rng.IntN(5), pick(classes()))
		d.class, d.types, d.adopted, d.force = classResolution, []string{"Постановление"}, []string{adoptGov}, 6
		add(d)
	}
	for range 15 {
		t := randDate(2000, 2025)
		n := number(t, 900, "")
		d := law(topicFor(t), fmt.Sprintf("Указ Президента РФ от %s N %s \"О мерах по совершенствованию порядка %s\"", dateWords(t), n, pick(subjects())), n, t, 3+rng.IntN(4), pick(classes()))
		d.class, d.types, d.force = classResolution, []string{"Указ"}, 7
		d.adopted = []string{"Органы исполнительной власти России и СССР\\Президент России\\Президент РФ"}
		add(d)
	}
	for range 30 {
		t := randDate(2010, 2025)
		m := ministries()[rng.IntN(len(ministries()))]
		n := number(t, 300, "н")
		d := law(topicFor(t), fmt.Sprintf("Приказ %s от %s N %s \"Об утверждении Порядка %s\"", m[0], dateWords(t), n, pick(subjects())), n, t, 2+rng.IntN(4), pick(classes()))
		d.class, d.types, d.force = classOrder, []string{"Приказ"}, 5
		d.adopted = []string{"Органы исполнительной власти России и СССР\\" + m[1]}
		d.rdate, d.rcode, d.rstatus = t.AddDate(0, 0, 20+rng.IntN(40)), itoa(40000+rng.IntN(40000)), "Зарегистрировано в Минюсте"
		d.access = "ACCESS_BY_REQUEST"
		add(d)
	}
	for range 25 {
		t := randDate(2014, 2025)
		m := ministries()[rng.IntN(2)]
		n := fmt.Sprintf("03-0%d-06/1/%d", 1+rng.IntN(7), 1000+rng.IntN(89000))
		if m[0] == "ФНС России" {
			n = fmt.Sprintf("БС-4-11/%d@", 1000+rng.IntN(19000))
		}
		d := law(topicFor(t), fmt.Sprintf("Письмо %s от %s N %s \"О порядке %s\"", m[0], dateWords(t), n, pick(subjects())), n, t, 2+rng.IntN(3), pick(classes()))
		d.class, d.types, d.force, d.access = classLetter, []string{"Письмо"}, 3, "ACCESS_BY_MONEY"
		d.adopted = []string{"Органы исполнительной власти России и СССР\\" + m[1]}
		add(d)
	}
	for range 10 {
		t := randDate(2012, 2025)
		n := number(t, 900, "-ПП")
		d := law(topicFor(t), fmt.Sprintf("Постановление Правительства Москвы от %s N %s \"О порядке %s в городе Москве\"", dateWords(t), n, pick(subjects())), n, t, 3+rng.IntN(4), pick(classes()))
		d.class, d.types, d.force, d.kinds = classResolution, []string{"Постановление"}, 4, []string{kindRegional}
		d.adopted, d.territory = []string{"Органы власти г. Москвы\\Правительство Москвы"}, []string{"г. Москва"}
		add(d)
	}
	for i := range 60 {
		t := randDate(2019, 2025)
		var kind, name string
		switch i % 3 {
		case 0:
			kind = "301"
			name = fmt.Sprintf("Решение %s от %s по делу N 2-%d/%d", pick(courts301()), dateWords(t), 100+rng.IntN(9000), t.Year())
		case 1:
			kind = "302"
			name = fmt.Sprintf("Решение %s от %s по делу N %s-%d/%d", pick(courts302()), dateWords(t), pick(arbitrCodes()), 1000+rng.IntN(300000), t.Year()-rng.IntN(2))
		default:
			kind = "303"
			name = fmt.Sprintf("Приговор %s от %s по делу N 1-%d/%d", pick(courts303()), dateWords(t), 10+rng.IntN(900), t.Year())
		}
		d := courtDoc(kind, name, t)
		d.topic = 300000000 + rng.IntN(300000000)
		add(d)
	}
}

// courtDoc is a court decision of kind 301 (general), 302 (arbitration) or
// 303 (criminal).
func courtDoc(kind, name string, date time.Time) *document {
	typ := "Решение"
	if kind == "303" {
		typ = "Приговор"
	}
	return &document{
		class: classCourt, name: name, types: []string{typ}, adopted: []string{"Суды\\" + name},
		classes: []string{classes()[11]}, date: date, number: "", rstatus: "Иные", category: []string{"Судебная практика"},
		status: statusActive, kinds: []string{kindCourts}, territory: []string{russia}, access: "ACCESS_BY_MONEY",
		envs: []string{"arbitr"}, court: kind, force: 2, size: 6 + int(date.Unix()/86400%9),
	}
}

// buildSkeleton creates the blocks: sections, chapters and articles for
// codes and laws, points and an appendix for acts, paragraphs otherwise.
func buildSkeleton(d *document, rng *rand.Rand) {
	d.byEntry = map[int]*entry{}
	addEntry := func(parent *entry, number int, title string) *entry {
		e := &entry{number: number, title: title, parent: parent}
		if parent != nil {
			parent.children = append(parent.children, e)
		} else {
			d.top = append(d.top, e)
		}
		d.entries = append(d.entries, e)
		d.byEntry[number] = e
		return e
	}
	subject := func() string { return subjects()[rng.IntN(len(subjects()))] }
	switch d.class {
	case classCode, classLaw:
		famous := famousTitles(d.topic)
		var section, chapter *entry
		perChapter := 4 + rng.IntN(12)
		for a := 1; a <= d.size; a++ {
			if d.size > 10 && (a-1)%perChapter == 0 {
				ch := (a-1)/perChapter + 1
				if d.size > 100 && (ch-1)%5 == 0 {
					s := (ch-1)/5 + 1
					title := "Раздел " + roman(s) + ". Порядок " + subject()
					if s == 1 {
						title = "Раздел I. Общие положения"
					}
					section = addEntry(nil, 1000000+s, title)
				}
				title := fmt.Sprintf("Глава %d. Порядок %s", ch, subject())
				if ch == 1 {
					title = "Глава 1. Общие положения"
				}
				chapter = addEntry(section, 100000+ch, title)
			}
			title, ok := famous[a]
			switch {
			case d.topic == TopicConstitution:
				title = fmt.Sprintf("Статья %d", a)
			case ok:
				title = fmt.Sprintf("Статья %d. %s", a, title)
			case a == 1:
				title = "Статья 1. Предмет регулирования настоящего " + map[bool]string{true: "Кодекса", false: "Федерального закона"}[d.class == classCode]
			default:
				title = fmt.Sprintf("Статья %d. Порядок %s", a, subject())
			}
			addEntry(chapter, a, title)
		}
	case classResolution, classOrder:
		for p := 1; p <= d.size/2+1; p++ {
			addEntry(nil, p, "")
		}
		app := addEntry(nil, 1000, "Приложение. Порядок "+subject())
		for p := 1; p <= d.size; p++ {
			addEntry(app, 1000+p, fmt.Sprintf("%d. Порядок %s", p, subject()))
		}
	default:
		for p := 1; p <= d.size; p++ {
			addEntry(nil, p, "")
		}
	}
}

func roman(n int) string {
	vals := []int{10, 9, 5, 4, 1}
	syms := []string{"X", "IX", "V", "IV", "I"}
	out := ""
	for i, v := range vals {
		for n >= v {
			out += syms[i]
			n -= v
		}
	}
	return out
}
