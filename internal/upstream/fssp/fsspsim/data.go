package fsspsim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record is one enforcement proceeding in the real-world format: all fields
// are strings, department included (the official doc shows an integer).
type Record struct {
	Name          string `json:"name"`
	ExeProduction string `json:"exe_production"`
	Details       string `json:"details"`
	Subject       string `json:"subject"`
	Department    string `json:"department"`
	Bailiff       string `json:"bailiff"`
	IPEnd         string `json:"ip_end"`
}

const nbsp = "\u00a0"

// records returns the deterministic answer to q under seed: the same query
// always gives the same records. With addressQuirk, a legal search without
// address fails as in the document's example result.
func records(seed uint64, q query, addressQuirk bool) ([]Record, error) {
	rng := queryRand(seed, q)
	p := q.Params
	switch q.Type {
	case TypePhysical:
		n := manyOrFew(rng, norm(p["lastname"]) == ManySurname, norm(p["lastname"]) == NoDebtSurname)
		out := make([]Record, n)
		for i := range out {
			out[i] = newRecord(rng, regionOf(rng, p["region"]), personName(rng, p))
		}
		return out, nil
	case TypeLegal:
		if _, ok := p["address"]; !ok && addressQuirk {
			return nil, subError(AddressError)
		}
		name := norm(p["name"])
		n := manyOrFew(rng, strings.Contains(name, ManyLegalName), strings.Contains(name, NoDebtLegalName))
		out := make([]Record, n)
		for i := range out {
			out[i] = newRecord(rng, regionOf(rng, p["region"]), legalName(rng, name, norm(p["address"])))
		}
		return out, nil
	default: // TypeIP, validated before
		num, _ := parseNumber(p["number"])
		if strings.HasPrefix(num.own, NotFoundNumberPrefix) {
			return []Record{}, nil
		}
		rec := newRecord(rng, 0, personName(rng, map[string]string{}))
		date := randDate(rng, num.year, num.year)
		rec.ExeProduction = num.String() + " от " + date.Format("02.01.2006")
		return []Record{rec}, nil
	}
}

// subError is a failed sub-request: {"code": 0, "message": ...}.
type subError string

func (e subError) Error() string { return string(e) }

func norm(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func queryRand(seed uint64, q query) *rand.Rand {
	h := fnv.New64a()
	_ = binary.Write(h, binary.LittleEndian, seed)
	fmt.Fprintf(h, "%d", q.Type)
	keys := make([]string, 0, len(q.Params))
	for k := range q.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "|%s=%s", k, norm(q.Params[k]))
	}
	return rand.New(rand.NewPCG(h.Sum64(), seed))
}

func manyOrFew(rng *rand.Rand, many, none bool) int {
	switch {
	case none:
		return 0
	case many:
		return ManyRecords + rng.IntN(11)
	}
	return rng.IntN(4)
}

// regionOf returns the two-digit region of a department: the searched region,
// or a random one for -1 (all) and 0 (unknown).
func regionOf(rng *rand.Rand, region string) int {
	code, _ := strconv.Atoi(region)
	if code <= 0 {
		return 1 + rng.IntN(92)
	}
	return code % 100
}

func pick(rng *rand.Rand, list ...string) string { return list[rng.IntN(len(list))] }

func randDate(rng *rand.Rand, fromYear, toYear int) time.Time {
	from := time.Date(fromYear, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(time.Date(toYear+1, 1, 1, 0, 0, 0, 0, time.UTC).Sub(from).Hours() / 24)
	return from.AddDate(0, 0, rng.IntN(days))
}

func personName(rng *rand.Rand, p map[string]string) string {
	last := norm(p["lastname"])
	if last == "" {
		last = pick(rng, "ПЕТРОВ", "СМИРНОВ", "КУЗНЕЦОВ", "ПОПОВ", "ВАСИЛЬЕВ", "СОКОЛОВ")
	}
	first := norm(p["firstname"])
	if first == "" {
		first = pick(rng, "СЕРГЕЙ", "АЛЕКСАНДР", "ДМИТРИЙ", "АНДРЕЙ", "ИГОРЬ")
	}
	middle := norm(p["secondname"])
	if middle == "" {
		middle = pick(rng, "ПЕТРОВИЧ", "ИВАНОВИЧ", "СЕРГЕЕВИЧ", "АЛЕКСАНДРОВИЧ", "ВИКТОРОВИЧ", "НИКОЛАЕВИЧ")
	}
	birth := p["birthdate"]
	if birth == "" {
		birth = randDate(rng, 1950, 2000).Format("02.01.2006")
	}
	place := pick(rng, "Г. МОСКВА", "РОССИЯ, Г. МОСКВА", "Г. ЕКАТЕРИНБУРГ", "СВЕРДЛОВСКАЯ ОБЛ., Г. НИЖНИЙ ТАГИЛ",
		"Г. ЛЕНИНГРАД", "С. ИВАНОВКА САРАТОВСКОЙ ОБЛ.", "ГОР. КАЗАНЬ")
	return strings.Join([]string{last, first, middle, birth, place}, " ")
}

func legalName(rng *rand.Rand, name, address string) string {
	form := pick(rng, "ООО", "АО", "ПАО", "ЗАО")
	if address == "" {
		address = pick(rng, "Г. МОСКВА", "Г. ЕКАТЕРИНБУРГ", "Г. КАЗАНЬ")
	}
	street := pick(rng, "УЛ. ЛЕНИНА", "УЛ. МИРА", "ПР-КТ ПОБЕДЫ", "УЛ. САДОВАЯ")
	return fmt.Sprintf(`%s "%s" %d, РОССИЯ, %s, %s, Д. %d`, form, name, 100000+rng.IntN(600000), address, street, 1+rng.IntN(120))
}

func newRecord(rng *rand.Rand, region int, name string) Record {
	dept := fmt.Sprintf("%02d%03d", region, 1+rng.IntN(60))
	start := randDate(rng, 2012, 2024)
	docDate := start.AddDate(0, 0, -10-rng.IntN(80))
	exe := fmt.Sprintf("%d/%02d/%s-ИП от %s", 1000+rng.IntN(900000), start.Year()%100, dept, start.Format("02.01.2006"))
	if rng.IntN(4) == 0 {
		exe += fmt.Sprintf(" %d/%02d/%s-СД", 100+rng.IntN(90000), start.Year()%100, dept)
	}
	end := ""
	if rng.IntN(5) < 2 {
		end = start.AddDate(0, 0, 30+rng.IntN(900)).Format("2006-01-02") + ", " +
			pick(rng, "46, 1, 3", "46, 1, 4", "47, 1, 1", "47, 1, 8", "43, 1, 3")
	}
	return Record{
		Name:          name,
		ExeProduction: exe,
		Details:       details(rng, docDate),
		Subject:       subject(rng),
		Department:    pick(rng, departments()...),
		Bailiff:       bailiff(rng),
		IPEnd:         end,
	}
}

func details(rng *rand.Rand, date time.Time) string {
	d := date.Format("02.01.2006")
	switch rng.IntN(4) {
	case 0:
		return fmt.Sprintf("Судебный приказ от %s № 2-%d/%d СУДЕБНЫЙ УЧАСТОК №%s%d %s", d, 1+rng.IntN(3000), date.Year(),
			nbsp, 1+rng.IntN(400), pick(rng, "ОСТАНКИНСКОГО РАЙОНА", "КИРОВСКОГО СУДЕБНОГО РАЙОНА", "Г. КАЗАНИ"))
	case 1:
		return fmt.Sprintf("Исполнительный лист от %s № ФС%s%09d %s РАЙОННЫЙ СУД", d, nbsp, rng.IntN(1e9),
			pick(rng, "ИЗМАЙЛОВСКИЙ", "ЛЕНИНСКИЙ", "ЦЕНТРАЛЬНЫЙ"))
	case 2:
		return fmt.Sprintf("Акт по делу об административном правонарушении от %s № 18810%015d ЦАФАП%sГИБДД ГУ МВД РОССИИ", d,
			rng.Int64N(1e15), nbsp)
	}
	return fmt.Sprintf("Акт органа, осуществляющего контрольные функции от %s № %d ИФНС%sРОССИИ №%s%d", d, 1000+rng.IntN(90000),
		nbsp, nbsp, 1+rng.IntN(40))
}

// rub writes an amount in kopecks the way the real data does: dot decimal,
// no trailing zeros (212776.4).
func rub(kopecks int) string {
	return strconv.FormatFloat(float64(kopecks)/100, 'f', -1, 64) + " руб."
}

func subject(rng *rand.Rand) string {
	sum := 1000 + rng.IntN(50000000)
	fee := max(sum*7/100, 100000)
	switch rng.IntN(6) {
	case 0:
		return "Задолженность по кредитным платежам (кроме ипотеки): " + rub(sum) + " Исполнительский сбор: " + rub(fee)
	case 1:
		return "Штраф ГИБДД: " + rub(50000*(1+rng.IntN(6)))
	case 2:
		return "Налог, пени, штраф: " + rub(sum/10)
	case 3:
		return "Коммунальные платежи: " + rub(sum/20) + " Исполнительский сбор: " + rub(fee)
	case 4:
		return "Иные взыскания имущественного характера в пользу физических и юридических лиц: " + rub(sum)
	}
	return ""
}

func departments() []string {
	return []string{
		"Останкинский ОСП 129347, Россия, г. Москва, ул. Ротерта, д. 2",
		"Кировский РОСП г. Екатеринбурга 620075, Россия, Свердловская обл., г. Екатеринбург, ул. Малышева, д. 2б",
		"ОСП по Центральному району г. Новосибирска 630099, Россия, Новосибирская обл., г. Новосибирск, ул. Советская, д. 9",
		"Красногвардейский РОСП 195027, Россия, г. Санкт-Петербург, Шепетовская ул., д. 5",
		"МОСП по ИОИП 420111, Россия, Респ. Татарстан, г. Казань, ул. Московская, д. 35",
		"ОСП по Ленинскому району г. Ростова-на-Дону 344002, Россия, Ростовская обл., г. Ростов-на-Дону, ул. Станиславского, д. 42",
	}
}

func bailiff(rng *rand.Rand) string {
	phone := fmt.Sprintf("+7(%d)%03d-%02d-%02d", 300+rng.IntN(600), rng.IntN(1000), rng.IntN(100), rng.IntN(100))
	if rng.IntN(5) == 0 {
		phone = " " + phone[1:] // the + sometimes arrives as a space
	}
	name := pick(rng, "НИТОЧКИНА", "СЕМЁНОВА", "ГРИГОРЬЕВ", "АБДУЛЛАЕВА", "ХОРОШИЛОВ", "КИМ")
	return fmt.Sprintf("%s %s. %s. %s<br>%s<br>", name, pick(rng, "А", "В", "Е", "Н", "О"), pick(rng, "А", "И", "С", "Ю"), phone, phone)
}
